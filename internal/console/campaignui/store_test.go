package campaignui

import (
	"testing"
	"time"
)

// Each member may send 5 test copies at once, then one more every 2
// minutes; another member's allowance is their own.
func TestTestSendAllowance(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	l := newTestLimiter(func() time.Time { return now })
	if !l.allow("ann", 3) || !l.allow("ann", 2) {
		t.Fatal("the first 5 were refused")
	}
	if l.allow("ann", 1) {
		t.Fatal("a 6th at once was allowed")
	}
	if !l.allow("bob", 5) {
		t.Fatal("another member shares the allowance")
	}
	now = now.Add(testEvery)
	if !l.allow("ann", 1) || l.allow("ann", 1) {
		t.Fatal("after 2 minutes, not exactly one more")
	}
}

// A kept preview is shown only to the member who made it, and only for
// previewTTL.
func TestPreviewIsTheMembersOwn(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	s := newPreviewStore(func() time.Time { return now })
	key := s.put("ann", "<p>Dear Reader7</p>")
	if html, ok := s.get("ann", key); !ok || html != "<p>Dear Reader7</p>" {
		t.Fatal("the member can't see their preview")
	}
	if _, ok := s.get("bob", key); ok {
		t.Fatal("another member saw the preview")
	}
	now = now.Add(previewTTL + time.Second)
	if _, ok := s.get("ann", key); ok {
		t.Fatal("an expired preview was shown")
	}
}
