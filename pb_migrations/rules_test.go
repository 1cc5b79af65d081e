package pb_migrations_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// This file checks the REST API rules of every collection and view
// (1764086400_collections.go, 1764086403_campaigns.go, 1764086404_schedules.go,
// 1764086405_events.go, 1764086406_giving.go, 1764086407_crm.go,
// 1764086560_rules.go, 1764086760_journeys.go,
// 1764086762_segments.go), together with the hooks that back them, for every
// 1764086560_rules.go, 1764086700_console.go), together with the hooks that back them, for every
// 1764086762_segments.go, 1764086780_tracking.go), together with the hooks that back them, for every
// collection × role × action.
//
// Status codes come from PocketBase's apis/record_crud.go (v0.40.4):
//   - nil rule, caller not a superuser: 403 for every action, guests included;
//   - list with a filter rule: 200, the rule filters the items (possibly to none);
//   - view/update/delete with a failing filter rule: 404;
//   - create with a failing filter rule: 400;
//   - a model hook refusing the write: 400;
//   - a request hook refusing every API write (consents, suppression
//     deletes): 403, superusers included;
//   - any write to a view collection: 400, before any rule is checked;
//   - superusers bypass every rule (but not the hooks).
// Besides the status, every row checks the data: a refused write leaves the
// row as it was, an allowed one has its effect.

type role int

const (
	anon role = iota
	comms
	admin
	super
)

func (r role) String() string {
	return [...]string{"anonymous", "comms", "admin", "superuser"}[r]
}

type action string

const (
	list   action = "list"
	view   action = "view"
	create action = "create"
	update action = "update"
	del    action = "delete"
)

// What a caller sees in a list: a filter over the collection selecting exactly
// the records the response must hold ({:self} is the caller's id). The empty
// filter means none.
const (
	seesNone   = ""
	seesAll    = "id != ''"
	seesSelf   = "id = {:self}"
	seesPublic = "public = true"
	seesListed = "hidden = false && removed = false"
)

type row struct {
	coll string
	act  action
	role role
	want int
	sees string // list only

	// Special rows only.
	note   string                             // names the subtest
	target func(*testing.T, *fx) *core.Record // view/update/delete; nil: the collection's default
	body   string                             // create/update JSON; "": the collection's default
	field  string                             // update: this field must hold value afterwards
	value  string
	check  func(*testing.T, *fx, *core.Record) // after an allowed create/update, with the stored record
	says   string                              // create/update/delete: the answer's message holds this
}

var rules = []row{
	// supporters: staff read, admins edit, only superusers create and delete.
	{coll: vocab.Supporters, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Supporters, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Supporters, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Supporters, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Supporters, act: view, role: anon, want: 404},
	{coll: vocab.Supporters, act: view, role: comms, want: 200},
	{coll: vocab.Supporters, act: view, role: admin, want: 200},
	{coll: vocab.Supporters, act: view, role: super, want: 200},
	{coll: vocab.Supporters, act: create, role: anon, want: 403},
	{coll: vocab.Supporters, act: create, role: comms, want: 403},
	{coll: vocab.Supporters, act: create, role: admin, want: 403},
	{coll: vocab.Supporters, act: create, role: super, want: 200},
	{coll: vocab.Supporters, act: update, role: anon, want: 404},
	{coll: vocab.Supporters, act: update, role: comms, want: 404},
	{coll: vocab.Supporters, act: update, role: admin, want: 200},
	{coll: vocab.Supporters, act: update, role: super, want: 200},
	{coll: vocab.Supporters, act: del, role: anon, want: 403},
	{coll: vocab.Supporters, act: del, role: comms, want: 403},
	{coll: vocab.Supporters, act: del, role: admin, want: 403},
	{coll: vocab.Supporters, act: del, role: super, want: 204},

	// topics: everyone reads public topics, staff read all, admins manage
	// them. A topic anything refers to (a supporter, a consent row, a
	// campaign, a schedule) can't be deleted, by anyone: unticking public
	// retires it from the forms and keeps the evidence whole.
	{coll: vocab.Topics, act: list, role: anon, want: 200, sees: seesPublic},
	{coll: vocab.Topics, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Topics, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Topics, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Topics, act: view, role: anon, want: 200},
	{coll: vocab.Topics, act: view, role: comms, want: 200},
	{coll: vocab.Topics, act: view, role: admin, want: 200},
	{coll: vocab.Topics, act: view, role: super, want: 200},
	{coll: vocab.Topics, act: view, role: anon, want: 404, note: "non-public", target: hiddenTopic},
	{coll: vocab.Topics, act: view, role: comms, want: 200, note: "non-public", target: hiddenTopic},
	{coll: vocab.Topics, act: view, role: admin, want: 200, note: "non-public", target: hiddenTopic},
	{coll: vocab.Topics, act: view, role: super, want: 200, note: "non-public", target: hiddenTopic},
	{coll: vocab.Topics, act: create, role: anon, want: 400},
	{coll: vocab.Topics, act: create, role: comms, want: 400},
	{coll: vocab.Topics, act: create, role: admin, want: 200},
	{coll: vocab.Topics, act: create, role: super, want: 200},
	{coll: vocab.Topics, act: update, role: anon, want: 404},
	{coll: vocab.Topics, act: update, role: comms, want: 404},
	{coll: vocab.Topics, act: update, role: admin, want: 200},
	{coll: vocab.Topics, act: update, role: super, want: 200},
	{coll: vocab.Topics, act: del, role: anon, want: 404},
	{coll: vocab.Topics, act: del, role: comms, want: 404},
	{coll: vocab.Topics, act: del, role: admin, want: 204},
	{coll: vocab.Topics, act: del, role: super, want: 204},
	{coll: vocab.Topics, act: del, role: admin, want: 400, note: "chosen by a supporter", target: topicOf(vocab.Supporters), says: "in use (1 supporters)"},
	{coll: vocab.Topics, act: del, role: admin, want: 400, note: "named in a consent row", target: topicOf(vocab.Consents), says: "in use (1 consents)"},
	{coll: vocab.Topics, act: del, role: admin, want: 400, note: "a campaign's audience", target: topicOf(vocab.Campaigns)},
	{coll: vocab.Topics, act: del, role: admin, want: 400, note: "a schedule's audience", target: topicOf(vocab.Schedules)},
	{coll: vocab.Topics, act: del, role: super, want: 400, note: "chosen by a supporter", target: topicOf(vocab.Supporters), says: "in use (1 supporters)"},
	{coll: vocab.Topics, act: del, role: super, want: 400, note: "named in a consent row", target: topicOf(vocab.Consents), says: "in use (1 consents)"},
	{coll: vocab.Topics, act: del, role: super, want: 400, note: "a campaign's audience", target: topicOf(vocab.Campaigns)},
	{coll: vocab.Topics, act: del, role: super, want: 400, note: "a schedule's audience", target: topicOf(vocab.Schedules)},

	// consents: staff read; only the app writes them (Go code: signup,
	// confirm, preferences, unsubscribe, import, erasure). Nobody creates,
	// edits or deletes a row through the API or the dashboard, superusers
	// included, so the evidence can't be forged.
	{coll: vocab.Consents, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Consents, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Consents, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Consents, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Consents, act: view, role: anon, want: 404},
	{coll: vocab.Consents, act: view, role: comms, want: 200},
	{coll: vocab.Consents, act: view, role: admin, want: 200},
	{coll: vocab.Consents, act: view, role: super, want: 200},
	{coll: vocab.Consents, act: create, role: anon, want: 403},
	{coll: vocab.Consents, act: create, role: comms, want: 403},
	{coll: vocab.Consents, act: create, role: admin, want: 403},
	{coll: vocab.Consents, act: create, role: super, want: 403, says: "written by the app itself"},
	{coll: vocab.Consents, act: create, role: super, want: 403, note: "confirmed grant", body: `{"supporter":"{supporter}","action":"grant","basis":"consent","method":"web_form","wording":"I agree","confirmed_at":"2026-01-02 03:04:05.000Z"}`},
	{coll: vocab.Consents, act: update, role: anon, want: 403},
	{coll: vocab.Consents, act: update, role: comms, want: 403},
	{coll: vocab.Consents, act: update, role: admin, want: 403},
	{coll: vocab.Consents, act: update, role: super, want: 403},
	{coll: vocab.Consents, act: update, role: admin, want: 403, note: "confirm", body: `{"confirmed_at":"2026-01-02 03:04:05.000Z"}`},
	{coll: vocab.Consents, act: update, role: super, want: 403, note: "fake a confirmation", body: `{"confirmed_at":"2026-01-02 03:04:05.000Z"}`},
	{coll: vocab.Consents, act: update, role: super, want: 403, note: "re-confirm", target: confirmedConsent, body: `{"confirmed_at":"2026-02-03 04:05:06.000Z"}`},
	{coll: vocab.Consents, act: update, role: super, want: 403, note: "unconfirm", target: confirmedConsent, body: `{"confirmed_at":""}`},
	{coll: vocab.Consents, act: del, role: anon, want: 403},
	{coll: vocab.Consents, act: del, role: comms, want: 403},
	{coll: vocab.Consents, act: del, role: admin, want: 403},
	{coll: vocab.Consents, act: del, role: super, want: 403, says: "written by the app itself"},

	// outbox: superusers only (it holds confirmation links).
	{coll: vocab.Outbox, act: list, role: anon, want: 403},
	{coll: vocab.Outbox, act: list, role: comms, want: 403},
	{coll: vocab.Outbox, act: list, role: admin, want: 403},
	{coll: vocab.Outbox, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Outbox, act: view, role: anon, want: 403},
	{coll: vocab.Outbox, act: view, role: comms, want: 403},
	{coll: vocab.Outbox, act: view, role: admin, want: 403},
	{coll: vocab.Outbox, act: view, role: super, want: 200},
	{coll: vocab.Outbox, act: create, role: anon, want: 403},
	{coll: vocab.Outbox, act: create, role: comms, want: 403},
	{coll: vocab.Outbox, act: create, role: admin, want: 403},
	{coll: vocab.Outbox, act: create, role: super, want: 200},
	{coll: vocab.Outbox, act: update, role: anon, want: 403},
	{coll: vocab.Outbox, act: update, role: comms, want: 403},
	{coll: vocab.Outbox, act: update, role: admin, want: 403},
	{coll: vocab.Outbox, act: update, role: super, want: 200},
	{coll: vocab.Outbox, act: del, role: anon, want: 403},
	{coll: vocab.Outbox, act: del, role: comms, want: 403},
	{coll: vocab.Outbox, act: del, role: admin, want: 403},
	{coll: vocab.Outbox, act: del, role: super, want: 204},

	// suppressions: admins read and add; nobody edits or deletes one, not
	// even a superuser: an erased or complained address must stay unmailed.
	// An address typed into email_hash is stored hashed.
	{coll: vocab.Suppressions, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Suppressions, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.Suppressions, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Suppressions, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Suppressions, act: view, role: anon, want: 404},
	{coll: vocab.Suppressions, act: view, role: comms, want: 404},
	{coll: vocab.Suppressions, act: view, role: admin, want: 200},
	{coll: vocab.Suppressions, act: view, role: super, want: 200},
	{coll: vocab.Suppressions, act: create, role: anon, want: 400},
	{coll: vocab.Suppressions, act: create, role: comms, want: 400},
	{coll: vocab.Suppressions, act: create, role: admin, want: 200},
	{coll: vocab.Suppressions, act: create, role: super, want: 200},
	{coll: vocab.Suppressions, act: create, role: admin, want: 200, note: "address is hashed", body: `{"email_hash":"  Hashed.Person@Example.ORG ","reason":"manual"}`, check: storedHash("hashed.person@example.org")},
	{coll: vocab.Suppressions, act: update, role: anon, want: 403},
	{coll: vocab.Suppressions, act: update, role: comms, want: 403},
	{coll: vocab.Suppressions, act: update, role: admin, want: 403},
	{coll: vocab.Suppressions, act: update, role: super, want: 400},
	{coll: vocab.Suppressions, act: del, role: anon, want: 403},
	{coll: vocab.Suppressions, act: del, role: comms, want: 403},
	{coll: vocab.Suppressions, act: del, role: admin, want: 403},
	{coll: vocab.Suppressions, act: del, role: super, want: 403, says: "can't be deleted"},

	// staff: each member sees and may rename themselves (not change their
	// role); admins manage everyone. The default target is another comms member.
	{coll: vocab.Staff, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Staff, act: list, role: comms, want: 200, sees: seesSelf},
	{coll: vocab.Staff, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Staff, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Staff, act: view, role: anon, want: 404},
	{coll: vocab.Staff, act: view, role: comms, want: 404},
	{coll: vocab.Staff, act: view, role: comms, want: 200, note: "self", target: self},
	{coll: vocab.Staff, act: view, role: admin, want: 200},
	{coll: vocab.Staff, act: view, role: super, want: 200},
	{coll: vocab.Staff, act: create, role: anon, want: 400},
	{coll: vocab.Staff, act: create, role: comms, want: 400},
	{coll: vocab.Staff, act: create, role: admin, want: 200},
	{coll: vocab.Staff, act: create, role: super, want: 200},
	{coll: vocab.Staff, act: update, role: anon, want: 404},
	{coll: vocab.Staff, act: update, role: comms, want: 404},
	{coll: vocab.Staff, act: update, role: comms, want: 200, note: "own name", target: self, body: `{"name":"Renamed Self"}`, field: "name", value: "Renamed Self"},
	{coll: vocab.Staff, act: update, role: comms, want: 404, note: "own role", target: self, body: `{"role":"admin"}`},
	{coll: vocab.Staff, act: update, role: comms, want: 404, note: "own name and role", target: self, body: `{"name":"Sneaky","role":"admin"}`},
	{coll: vocab.Staff, act: update, role: admin, want: 200},
	{coll: vocab.Staff, act: update, role: admin, want: 200, note: "role", body: `{"role":"admin"}`, field: "role", value: "admin"},
	{coll: vocab.Staff, act: update, role: super, want: 200},
	{coll: vocab.Staff, act: del, role: anon, want: 404},
	{coll: vocab.Staff, act: del, role: comms, want: 404},
	{coll: vocab.Staff, act: del, role: comms, want: 404, note: "self", target: self},
	{coll: vocab.Staff, act: del, role: admin, want: 204},
	{coll: vocab.Staff, act: del, role: super, want: 204},

	// audit: admins read the trail; nobody writes it through the API, and no
	// row can be changed or deleted, by superusers either (console guard).
	{coll: vocab.Audit, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Audit, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.Audit, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Audit, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Audit, act: view, role: anon, want: 404},
	{coll: vocab.Audit, act: view, role: comms, want: 404},
	{coll: vocab.Audit, act: view, role: admin, want: 200},
	{coll: vocab.Audit, act: view, role: super, want: 200},
	{coll: vocab.Audit, act: create, role: anon, want: 403},
	{coll: vocab.Audit, act: create, role: comms, want: 403},
	{coll: vocab.Audit, act: create, role: admin, want: 403},
	{coll: vocab.Audit, act: create, role: super, want: 403, says: "written by the app"},
	{coll: vocab.Audit, act: update, role: anon, want: 403},
	{coll: vocab.Audit, act: update, role: comms, want: 403},
	{coll: vocab.Audit, act: update, role: admin, want: 403},
	{coll: vocab.Audit, act: update, role: super, want: 400, says: "append-only"},
	{coll: vocab.Audit, act: del, role: anon, want: 403},
	{coll: vocab.Audit, act: del, role: comms, want: 403},
	{coll: vocab.Audit, act: del, role: admin, want: 403},
	{coll: vocab.Audit, act: del, role: super, want: 400, says: "append-only"},

	// charity: public identity, superusers edit; a second record and deletion
	// are refused by hooks even for superusers.
	{coll: vocab.Charity, act: list, role: anon, want: 200, sees: seesAll},
	{coll: vocab.Charity, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Charity, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Charity, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Charity, act: view, role: anon, want: 200},
	{coll: vocab.Charity, act: view, role: comms, want: 200},
	{coll: vocab.Charity, act: view, role: admin, want: 200},
	{coll: vocab.Charity, act: view, role: super, want: 200},
	{coll: vocab.Charity, act: create, role: anon, want: 403},
	{coll: vocab.Charity, act: create, role: comms, want: 403},
	{coll: vocab.Charity, act: create, role: admin, want: 403},
	{coll: vocab.Charity, act: create, role: super, want: 400},
	{coll: vocab.Charity, act: update, role: anon, want: 403},
	{coll: vocab.Charity, act: update, role: comms, want: 403},
	{coll: vocab.Charity, act: update, role: admin, want: 403},
	{coll: vocab.Charity, act: update, role: super, want: 200},
	{coll: vocab.Charity, act: del, role: anon, want: 403},
	{coll: vocab.Charity, act: del, role: comms, want: 403},
	{coll: vocab.Charity, act: del, role: admin, want: 403},
	{coll: vocab.Charity, act: del, role: super, want: 400},

	// campaigns: staff read, create and edit (the request hooks check every
	// change, for superusers too); only superusers delete. A new campaign is
	// a draft unless it says scheduled; engine-owned fields can't be set.
	{coll: vocab.Campaigns, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Campaigns, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Campaigns, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Campaigns, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Campaigns, act: view, role: anon, want: 404},
	{coll: vocab.Campaigns, act: view, role: comms, want: 200},
	{coll: vocab.Campaigns, act: view, role: admin, want: 200},
	{coll: vocab.Campaigns, act: view, role: super, want: 200},
	{coll: vocab.Campaigns, act: create, role: anon, want: 400},
	{coll: vocab.Campaigns, act: create, role: comms, want: 200, check: newDraft},
	{coll: vocab.Campaigns, act: create, role: admin, want: 200, check: newDraft},
	{coll: vocab.Campaigns, act: create, role: super, want: 200, check: newDraft},
	{coll: vocab.Campaigns, act: create, role: comms, want: 200, note: "scheduled", body: `{"name":"Later","subject":"Hi","body_format":"markdown","body":"Hello","topics":["{topic}"],"status":"scheduled","send_at":"2099-01-01 00:00:00.000Z"}`, check: storedStatus(vocab.CampaignScheduled)},
	{coll: vocab.Campaigns, act: create, role: comms, want: 200, note: "engine fields ignored", body: `{"name":"Sneaky","subject":"Hi","body_format":"markdown","body":"Hello","topics":["{topic}"],"total":99,"sent":99,"started_at":"2025-01-01 00:00:00.000Z","last_error":"x"}`, check: newDraft},
	{coll: vocab.Campaigns, act: create, role: comms, want: 400, note: "as sending", body: `{"name":"Now","subject":"Hi","body_format":"markdown","body":"Hello","topics":["{topic}"],"status":"sending"}`},
	{coll: vocab.Campaigns, act: create, role: super, want: 400, note: "as sent", body: `{"name":"Done","subject":"Hi","body_format":"markdown","body":"Hello","topics":["{topic}"],"status":"sent"}`},
	{coll: vocab.Campaigns, act: create, role: comms, want: 400, note: "incomplete", body: `{"name":"No body","subject":"Hi","body_format":"markdown","topics":["{topic}"]}`},
	{coll: vocab.Campaigns, act: update, role: anon, want: 404},
	{coll: vocab.Campaigns, act: update, role: comms, want: 200},
	{coll: vocab.Campaigns, act: update, role: admin, want: 200},
	{coll: vocab.Campaigns, act: update, role: super, want: 200},
	{coll: vocab.Campaigns, act: update, role: comms, want: 200, note: "schedule", body: `{"status":"scheduled","send_at":"2099-01-01 00:00:00.000Z"}`, field: "status", value: vocab.CampaignScheduled},
	{coll: vocab.Campaigns, act: update, role: comms, want: 400, note: "to sending", body: `{"status":"sending"}`},
	{coll: vocab.Campaigns, act: update, role: super, want: 400, note: "to sending", body: `{"status":"sending"}`},
	{coll: vocab.Campaigns, act: update, role: admin, want: 200, note: "engine fields ignored", target: countedCampaign, body: `{"name":"Counted","sent":99,"total":99,"last_error":"x","started_at":""}`, field: "name", value: "Counted", check: keptCounters},
	{coll: vocab.Campaigns, act: del, role: anon, want: 403},
	{coll: vocab.Campaigns, act: del, role: comms, want: 403},
	{coll: vocab.Campaigns, act: del, role: admin, want: 403},
	{coll: vocab.Campaigns, act: del, role: super, want: 204},

	// deliveries: staff read; only superusers write (the engine writes them
	// from Go code).
	{coll: vocab.Deliveries, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Deliveries, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Deliveries, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Deliveries, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Deliveries, act: view, role: anon, want: 404},
	{coll: vocab.Deliveries, act: view, role: comms, want: 200},
	{coll: vocab.Deliveries, act: view, role: admin, want: 200},
	{coll: vocab.Deliveries, act: view, role: super, want: 200},
	{coll: vocab.Deliveries, act: create, role: anon, want: 403},
	{coll: vocab.Deliveries, act: create, role: comms, want: 403},
	{coll: vocab.Deliveries, act: create, role: admin, want: 403},
	{coll: vocab.Deliveries, act: create, role: super, want: 200},
	{coll: vocab.Deliveries, act: update, role: anon, want: 403},
	{coll: vocab.Deliveries, act: update, role: comms, want: 403},
	{coll: vocab.Deliveries, act: update, role: admin, want: 403},
	{coll: vocab.Deliveries, act: update, role: super, want: 200},
	{coll: vocab.Deliveries, act: update, role: comms, want: 403, note: "mark sent", body: `{"status":"sent"}`},
	{coll: vocab.Deliveries, act: del, role: anon, want: 403},
	{coll: vocab.Deliveries, act: del, role: comms, want: 403},
	{coll: vocab.Deliveries, act: del, role: admin, want: 403},
	{coll: vocab.Deliveries, act: del, role: super, want: 204},

	// donations, pledges, Gift Aid declarations: financial records, admins
	// only; comms staff don't even see that they exist.
	{coll: vocab.Donations, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Donations, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.Donations, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Donations, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Donations, act: view, role: anon, want: 404},
	{coll: vocab.Donations, act: view, role: comms, want: 404},
	{coll: vocab.Donations, act: view, role: admin, want: 200},
	{coll: vocab.Donations, act: view, role: super, want: 200},
	{coll: vocab.Donations, act: create, role: anon, want: 400},
	{coll: vocab.Donations, act: create, role: comms, want: 400},
	{coll: vocab.Donations, act: create, role: admin, want: 200},
	{coll: vocab.Donations, act: create, role: super, want: 200},
	{coll: vocab.Donations, act: update, role: anon, want: 404},
	{coll: vocab.Donations, act: update, role: comms, want: 404},
	{coll: vocab.Donations, act: update, role: admin, want: 200},
	{coll: vocab.Donations, act: update, role: super, want: 200},
	{coll: vocab.Donations, act: del, role: anon, want: 404},
	{coll: vocab.Donations, act: del, role: comms, want: 404},
	{coll: vocab.Donations, act: del, role: admin, want: 204},
	{coll: vocab.Donations, act: del, role: super, want: 204},
	{coll: vocab.Pledges, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Pledges, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.Pledges, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Pledges, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Pledges, act: view, role: anon, want: 404},
	{coll: vocab.Pledges, act: view, role: comms, want: 404},
	{coll: vocab.Pledges, act: view, role: admin, want: 200},
	{coll: vocab.Pledges, act: view, role: super, want: 200},
	{coll: vocab.Pledges, act: create, role: anon, want: 400},
	{coll: vocab.Pledges, act: create, role: comms, want: 400},
	{coll: vocab.Pledges, act: create, role: admin, want: 200},
	{coll: vocab.Pledges, act: create, role: super, want: 200},
	{coll: vocab.Pledges, act: update, role: anon, want: 404},
	{coll: vocab.Pledges, act: update, role: comms, want: 404},
	{coll: vocab.Pledges, act: update, role: admin, want: 200},
	{coll: vocab.Pledges, act: update, role: super, want: 200},
	{coll: vocab.Pledges, act: del, role: anon, want: 404},
	{coll: vocab.Pledges, act: del, role: comms, want: 404},
	{coll: vocab.Pledges, act: del, role: admin, want: 204},
	{coll: vocab.Pledges, act: del, role: super, want: 204},
	{coll: vocab.Declarations, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Declarations, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.Declarations, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Declarations, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Declarations, act: view, role: anon, want: 404},
	{coll: vocab.Declarations, act: view, role: comms, want: 404},
	{coll: vocab.Declarations, act: view, role: admin, want: 200},
	{coll: vocab.Declarations, act: view, role: super, want: 200},
	{coll: vocab.Declarations, act: create, role: anon, want: 400},
	{coll: vocab.Declarations, act: create, role: comms, want: 400},
	{coll: vocab.Declarations, act: create, role: admin, want: 200},
	{coll: vocab.Declarations, act: create, role: super, want: 200},
	{coll: vocab.Declarations, act: update, role: anon, want: 404},
	{coll: vocab.Declarations, act: update, role: comms, want: 404},
	{coll: vocab.Declarations, act: update, role: admin, want: 200},
	{coll: vocab.Declarations, act: update, role: super, want: 200},
	{coll: vocab.Declarations, act: del, role: anon, want: 404},
	{coll: vocab.Declarations, act: del, role: comms, want: 404},
	{coll: vocab.Declarations, act: del, role: admin, want: 204},
	{coll: vocab.Declarations, act: del, role: super, want: 204},
	{coll: vocab.Declarations, act: create, role: admin, want: 400, note: "oral, no confirmation sent", body: `{"supporter":"{supporter}","first_name":"Ann","last_name":"Other","house":"1","address":"High St","postcode":"LS1 1AA","declared_on":"2026-01-01 00:00:00.000Z","scope":"past_and_future","method":"oral"}`},
	{coll: vocab.Declarations, act: create, role: super, want: 400, note: "no postcode", body: `{"supporter":"{supporter}","first_name":"Ann","last_name":"Other","house":"1","address":"High St","declared_on":"2026-01-01 00:00:00.000Z","scope":"past_and_future","method":"written"}`},
	{coll: vocab.Declarations, act: create, role: admin, want: 200, note: "postcode normalised", body: `{"supporter":"{supporter}","first_name":"Ann","last_name":"Other","house":"1","address":"High St","postcode":" ls11aa","declared_on":"2026-01-01 00:00:00.000Z","scope":"past_and_future","method":"written"}`, check: storedField("postcode", "LS1 1AA")},

	// The admin views: the supporter timeline and giving totals. Admins read;
	// nobody writes a view.
	{coll: vocab.Timeline, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Timeline, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.Timeline, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Timeline, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Timeline, act: view, role: anon, want: 404},
	{coll: vocab.Timeline, act: view, role: comms, want: 404},
	{coll: vocab.Timeline, act: view, role: admin, want: 200},
	{coll: vocab.Timeline, act: view, role: super, want: 200},
	{coll: vocab.Timeline, act: create, role: anon, want: 400},
	{coll: vocab.Timeline, act: create, role: comms, want: 400},
	{coll: vocab.Timeline, act: create, role: admin, want: 400},
	{coll: vocab.Timeline, act: create, role: super, want: 400},
	{coll: vocab.Timeline, act: update, role: anon, want: 400},
	{coll: vocab.Timeline, act: update, role: comms, want: 400},
	{coll: vocab.Timeline, act: update, role: admin, want: 400},
	{coll: vocab.Timeline, act: update, role: super, want: 400},
	{coll: vocab.Timeline, act: del, role: anon, want: 400},
	{coll: vocab.Timeline, act: del, role: comms, want: 400},
	{coll: vocab.Timeline, act: del, role: admin, want: 400},
	{coll: vocab.Timeline, act: del, role: super, want: 400},
	{coll: vocab.Giving, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Giving, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.Giving, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Giving, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Giving, act: view, role: anon, want: 404},
	{coll: vocab.Giving, act: view, role: comms, want: 404},
	{coll: vocab.Giving, act: view, role: admin, want: 200},
	{coll: vocab.Giving, act: view, role: super, want: 200},
	{coll: vocab.Giving, act: create, role: anon, want: 400},
	{coll: vocab.Giving, act: create, role: comms, want: 400},
	{coll: vocab.Giving, act: create, role: admin, want: 400},
	{coll: vocab.Giving, act: create, role: super, want: 400},
	{coll: vocab.Giving, act: update, role: anon, want: 400},
	{coll: vocab.Giving, act: update, role: comms, want: 400},
	{coll: vocab.Giving, act: update, role: admin, want: 400},
	{coll: vocab.Giving, act: update, role: super, want: 400},
	{coll: vocab.Giving, act: del, role: anon, want: 400},
	{coll: vocab.Giving, act: del, role: comms, want: 400},
	{coll: vocab.Giving, act: del, role: admin, want: 400},
	{coll: vocab.Giving, act: del, role: super, want: 400},

	// events: the public sees what the events page shows (not hidden, not
	// removed); staff see all; comms and admins create and edit; admins delete.
	{coll: vocab.Events, act: list, role: anon, want: 200, sees: seesListed},
	{coll: vocab.Events, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Events, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Events, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Events, act: view, role: anon, want: 200},
	{coll: vocab.Events, act: view, role: comms, want: 200},
	{coll: vocab.Events, act: view, role: admin, want: 200},
	{coll: vocab.Events, act: view, role: super, want: 200},
	{coll: vocab.Events, act: view, role: anon, want: 404, note: "hidden", target: hiddenEvent},
	{coll: vocab.Events, act: view, role: anon, want: 404, note: "removed", target: removedEvent},
	{coll: vocab.Events, act: view, role: comms, want: 200, note: "hidden", target: hiddenEvent},
	{coll: vocab.Events, act: create, role: anon, want: 400},
	{coll: vocab.Events, act: create, role: comms, want: 200},
	{coll: vocab.Events, act: create, role: admin, want: 200},
	{coll: vocab.Events, act: create, role: super, want: 200},
	{coll: vocab.Events, act: update, role: anon, want: 404},
	{coll: vocab.Events, act: update, role: comms, want: 200},
	{coll: vocab.Events, act: update, role: admin, want: 200},
	{coll: vocab.Events, act: update, role: super, want: 200},
	{coll: vocab.Events, act: del, role: anon, want: 404},
	{coll: vocab.Events, act: del, role: comms, want: 404},
	{coll: vocab.Events, act: del, role: admin, want: 204},
	{coll: vocab.Events, act: del, role: super, want: 204},

	// sync_runs: staff read the log; no staff role writes it through the API
	// (the sync writes it from Go); superusers bypass rules, as everywhere.
	{coll: vocab.SyncRuns, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.SyncRuns, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.SyncRuns, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.SyncRuns, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.SyncRuns, act: view, role: anon, want: 404},
	{coll: vocab.SyncRuns, act: view, role: comms, want: 200},
	{coll: vocab.SyncRuns, act: view, role: admin, want: 200},
	{coll: vocab.SyncRuns, act: view, role: super, want: 200},
	{coll: vocab.SyncRuns, act: create, role: anon, want: 403},
	{coll: vocab.SyncRuns, act: create, role: comms, want: 403},
	{coll: vocab.SyncRuns, act: create, role: admin, want: 403},
	{coll: vocab.SyncRuns, act: create, role: super, want: 200},
	{coll: vocab.SyncRuns, act: update, role: anon, want: 403},
	{coll: vocab.SyncRuns, act: update, role: comms, want: 403},
	{coll: vocab.SyncRuns, act: update, role: admin, want: 403},
	{coll: vocab.SyncRuns, act: update, role: super, want: 200},
	{coll: vocab.SyncRuns, act: del, role: anon, want: 403},
	{coll: vocab.SyncRuns, act: del, role: comms, want: 403},
	{coll: vocab.SyncRuns, act: del, role: admin, want: 403},
	{coll: vocab.SyncRuns, act: del, role: super, want: 204},

	// schedules: recurring newsletters are comms work, like campaigns: staff
	// read, create and edit them (a schedule can do no more than the
	// campaigns comms staff may send anyway); admins delete, comms staff
	// switch one off with enabled. The next run is always computed.
	{coll: vocab.Schedules, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Schedules, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Schedules, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Schedules, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Schedules, act: view, role: anon, want: 404},
	{coll: vocab.Schedules, act: view, role: comms, want: 200},
	{coll: vocab.Schedules, act: view, role: admin, want: 200},
	{coll: vocab.Schedules, act: view, role: super, want: 200},
	{coll: vocab.Schedules, act: create, role: anon, want: 400},
	{coll: vocab.Schedules, act: create, role: comms, want: 200, check: nextRunSet},
	{coll: vocab.Schedules, act: create, role: admin, want: 200, check: nextRunSet},
	{coll: vocab.Schedules, act: create, role: super, want: 200, check: nextRunSet},
	{coll: vocab.Schedules, act: create, role: comms, want: 400, note: "bad spec", body: `{"name":"Bad","spec":"every tuesday","subject":"News","body_format":"markdown","body":"Hello","topics":["{topic}"]}`},
	{coll: vocab.Schedules, act: update, role: anon, want: 404},
	{coll: vocab.Schedules, act: update, role: comms, want: 200},
	{coll: vocab.Schedules, act: update, role: admin, want: 200},
	{coll: vocab.Schedules, act: update, role: super, want: 200},
	{coll: vocab.Schedules, act: update, role: comms, want: 200, note: "switch off", body: `{"enabled":false}`, field: "enabled", value: "false"},
	{coll: vocab.Schedules, act: del, role: anon, want: 404},
	{coll: vocab.Schedules, act: del, role: comms, want: 404},
	{coll: vocab.Schedules, act: del, role: admin, want: 204},
	{coll: vocab.Schedules, act: del, role: super, want: 204},

	// bounce_reports: admins read; only the app (and superusers) write.
	{coll: vocab.BounceReports, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.BounceReports, act: list, role: comms, want: 200, sees: seesNone},
	{coll: vocab.BounceReports, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.BounceReports, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.BounceReports, act: view, role: anon, want: 404},
	{coll: vocab.BounceReports, act: view, role: comms, want: 404},
	{coll: vocab.BounceReports, act: view, role: admin, want: 200},
	{coll: vocab.BounceReports, act: view, role: super, want: 200},
	{coll: vocab.BounceReports, act: create, role: anon, want: 403},
	{coll: vocab.BounceReports, act: create, role: comms, want: 403},
	{coll: vocab.BounceReports, act: create, role: admin, want: 403},
	{coll: vocab.BounceReports, act: create, role: super, want: 200},
	{coll: vocab.BounceReports, act: update, role: anon, want: 403},
	{coll: vocab.BounceReports, act: update, role: comms, want: 403},
	{coll: vocab.BounceReports, act: update, role: admin, want: 403},
	{coll: vocab.BounceReports, act: update, role: super, want: 200},
	{coll: vocab.BounceReports, act: del, role: anon, want: 403},
	{coll: vocab.BounceReports, act: del, role: comms, want: 403},
	{coll: vocab.BounceReports, act: del, role: admin, want: 403},
	{coll: vocab.BounceReports, act: del, role: super, want: 204},
	// Checkouts hold what a donor typed until Stripe says they paid: superusers only.
	{coll: vocab.Checkouts, act: list, role: anon, want: 403},
	{coll: vocab.Checkouts, act: list, role: comms, want: 403},
	{coll: vocab.Checkouts, act: list, role: admin, want: 403},
	{coll: vocab.Checkouts, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Checkouts, act: view, role: anon, want: 403},
	{coll: vocab.Checkouts, act: view, role: comms, want: 403},
	{coll: vocab.Checkouts, act: view, role: admin, want: 403},
	{coll: vocab.Checkouts, act: view, role: super, want: 200},
	{coll: vocab.Checkouts, act: create, role: anon, want: 403},
	{coll: vocab.Checkouts, act: create, role: comms, want: 403},
	{coll: vocab.Checkouts, act: create, role: admin, want: 403},
	{coll: vocab.Checkouts, act: create, role: super, want: 200},
	{coll: vocab.Checkouts, act: update, role: anon, want: 403},
	{coll: vocab.Checkouts, act: update, role: comms, want: 403},
	{coll: vocab.Checkouts, act: update, role: admin, want: 403},
	{coll: vocab.Checkouts, act: update, role: super, want: 200},
	{coll: vocab.Checkouts, act: del, role: anon, want: 403},
	{coll: vocab.Checkouts, act: del, role: comms, want: 403},
	{coll: vocab.Checkouts, act: del, role: admin, want: 403},
	{coll: vocab.Checkouts, act: del, role: super, want: 204},
	// journeys and their steps: staff (comms and admins) edit them; a step
	// that doesn't render and a topic journey without topics are refused.
	// journey_sends are written by the app: staff read them.
	{coll: vocab.Journeys, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Journeys, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Journeys, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Journeys, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Journeys, act: view, role: anon, want: 404},
	{coll: vocab.Journeys, act: view, role: comms, want: 200},
	{coll: vocab.Journeys, act: view, role: admin, want: 200},
	{coll: vocab.Journeys, act: view, role: super, want: 200},
	{coll: vocab.Journeys, act: create, role: anon, want: 400},
	{coll: vocab.Journeys, act: create, role: comms, want: 200},
	{coll: vocab.Journeys, act: create, role: admin, want: 200},
	{coll: vocab.Journeys, act: create, role: super, want: 200},
	{coll: vocab.Journeys, act: update, role: anon, want: 404},
	{coll: vocab.Journeys, act: update, role: comms, want: 200},
	{coll: vocab.Journeys, act: update, role: admin, want: 200},
	{coll: vocab.Journeys, act: update, role: super, want: 200},
	{coll: vocab.Journeys, act: del, role: anon, want: 404},
	{coll: vocab.Journeys, act: del, role: comms, want: 204},
	{coll: vocab.Journeys, act: del, role: admin, want: 204},
	{coll: vocab.Journeys, act: del, role: super, want: 204},
	{coll: vocab.JourneySteps, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.JourneySteps, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.JourneySteps, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.JourneySteps, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.JourneySteps, act: view, role: anon, want: 404},
	{coll: vocab.JourneySteps, act: view, role: comms, want: 200},
	{coll: vocab.JourneySteps, act: view, role: admin, want: 200},
	{coll: vocab.JourneySteps, act: view, role: super, want: 200},
	{coll: vocab.JourneySteps, act: create, role: anon, want: 400},
	{coll: vocab.JourneySteps, act: create, role: comms, want: 200},
	{coll: vocab.JourneySteps, act: create, role: admin, want: 200},
	{coll: vocab.JourneySteps, act: create, role: super, want: 200},
	{coll: vocab.JourneySteps, act: update, role: anon, want: 404},
	{coll: vocab.JourneySteps, act: update, role: comms, want: 200},
	{coll: vocab.JourneySteps, act: update, role: admin, want: 200},
	{coll: vocab.JourneySteps, act: update, role: super, want: 200},
	{coll: vocab.JourneySteps, act: del, role: anon, want: 404},
	{coll: vocab.JourneySteps, act: del, role: comms, want: 204},
	{coll: vocab.JourneySteps, act: del, role: admin, want: 204},
	{coll: vocab.JourneySteps, act: del, role: super, want: 204},
	{coll: vocab.Journeys, act: create, role: comms, want: 400, note: "topic journey without topics", body: `{"name":"Events series","trigger":"topic_added"}`},
	{coll: vocab.JourneySteps, act: create, role: comms, want: 400, note: "doesn't render", body: `{"journey":"{journey}","delay_hours":0,"subject":"Hi","body_format":"markdown","body":"{{.Nickname}}"}`, says: "Nickname"},
	{coll: vocab.JourneySteps, act: update, role: comms, want: 200, note: "counters are the worker's", body: `{"sent":99}`, field: "sent", value: "0"},
	{coll: vocab.JourneySends, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.JourneySends, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.JourneySends, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.JourneySends, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.JourneySends, act: view, role: anon, want: 404},
	{coll: vocab.JourneySends, act: view, role: comms, want: 200},
	{coll: vocab.JourneySends, act: view, role: admin, want: 200},
	{coll: vocab.JourneySends, act: view, role: super, want: 200},
	{coll: vocab.JourneySends, act: create, role: anon, want: 403},
	{coll: vocab.JourneySends, act: create, role: comms, want: 403},
	{coll: vocab.JourneySends, act: create, role: admin, want: 403},
	{coll: vocab.JourneySends, act: create, role: super, want: 200},
	{coll: vocab.JourneySends, act: update, role: anon, want: 403},
	{coll: vocab.JourneySends, act: update, role: comms, want: 403},
	{coll: vocab.JourneySends, act: update, role: admin, want: 403},
	{coll: vocab.JourneySends, act: update, role: super, want: 200},
	{coll: vocab.JourneySends, act: del, role: anon, want: 403},
	{coll: vocab.JourneySends, act: del, role: comms, want: 403},
	{coll: vocab.JourneySends, act: del, role: admin, want: 403},
	{coll: vocab.JourneySends, act: del, role: super, want: 204},
	// tracking_events are written by the app alone (internal/tracking): staff read them.
	{coll: vocab.TrackingEvents, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.TrackingEvents, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.TrackingEvents, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.TrackingEvents, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.TrackingEvents, act: view, role: anon, want: 404},
	{coll: vocab.TrackingEvents, act: view, role: comms, want: 200},
	{coll: vocab.TrackingEvents, act: view, role: admin, want: 200},
	{coll: vocab.TrackingEvents, act: view, role: super, want: 200},
	{coll: vocab.TrackingEvents, act: create, role: anon, want: 403},
	{coll: vocab.TrackingEvents, act: create, role: comms, want: 403},
	{coll: vocab.TrackingEvents, act: create, role: admin, want: 403},
	{coll: vocab.TrackingEvents, act: create, role: super, want: 200},
	{coll: vocab.TrackingEvents, act: update, role: anon, want: 403},
	{coll: vocab.TrackingEvents, act: update, role: comms, want: 403},
	{coll: vocab.TrackingEvents, act: update, role: admin, want: 403},
	{coll: vocab.TrackingEvents, act: update, role: super, want: 200},
	{coll: vocab.TrackingEvents, act: del, role: anon, want: 403},
	{coll: vocab.TrackingEvents, act: del, role: comms, want: 403},
	{coll: vocab.TrackingEvents, act: del, role: admin, want: 403},
	{coll: vocab.TrackingEvents, act: del, role: super, want: 204},
	// segments: staff read and write them; a giving filter is for admins.
	{coll: vocab.Segments, act: list, role: anon, want: 200, sees: seesNone},
	{coll: vocab.Segments, act: list, role: comms, want: 200, sees: seesAll},
	{coll: vocab.Segments, act: list, role: admin, want: 200, sees: seesAll},
	{coll: vocab.Segments, act: list, role: super, want: 200, sees: seesAll},
	{coll: vocab.Segments, act: view, role: anon, want: 404},
	{coll: vocab.Segments, act: view, role: comms, want: 200},
	{coll: vocab.Segments, act: view, role: admin, want: 200},
	{coll: vocab.Segments, act: view, role: super, want: 200},
	{coll: vocab.Segments, act: create, role: anon, want: 400},
	{coll: vocab.Segments, act: create, role: comms, want: 200},
	{coll: vocab.Segments, act: create, role: admin, want: 200},
	{coll: vocab.Segments, act: create, role: super, want: 200},
	{coll: vocab.Segments, act: create, role: comms, want: 403, note: "giving filter", body: `{"name":"Donors {n}","giving":"donated"}`, says: "admins"},
	{coll: vocab.Segments, act: create, role: admin, want: 200, note: "giving filter", body: `{"name":"Donors {n}","giving":"donated"}`},
	{coll: vocab.Segments, act: update, role: anon, want: 404},
	{coll: vocab.Segments, act: update, role: comms, want: 200},
	{coll: vocab.Segments, act: update, role: admin, want: 200},
	{coll: vocab.Segments, act: update, role: super, want: 200},
	{coll: vocab.Segments, act: update, role: comms, want: 403, note: "add a giving filter", body: `{"giving":"active_pledge"}`},
	{coll: vocab.Segments, act: del, role: anon, want: 404},
	{coll: vocab.Segments, act: del, role: comms, want: 204},
	{coll: vocab.Segments, act: del, role: admin, want: 204},
	{coll: vocab.Segments, act: del, role: super, want: 204},
	// A campaign is public only once sent (internal/archive).
	{coll: vocab.Campaigns, act: update, role: comms, want: 400, note: "public before it was sent", body: `{"public":true}`, says: "public"},
}

// Per-collection defaults: the JSON a create sends ({n} is a sequence number,
// {supporter} the fixture supporter's id, {topic} the shared topic's id,
// {campaign} a fresh draft campaign's id) and the field an update changes.
var (
	createBody = map[string]string{
		vocab.Supporters:     `{"email":"new{n}@example.org","status":"pending"}`,
		vocab.Topics:         `{"name":"New topic {n}","slug":"new-{n}","public":true}`,
		vocab.Consents:       `{"supporter":"{supporter}","action":"grant","basis":"consent","method":"staff","wording":"I agree {n}"}`,
		vocab.Outbox:         `{"to":"new{n}@example.org","kind":"test","subject":"Hello","status":"cancelled"}`,
		vocab.Suppressions:   `{"email_hash":"new{n}@example.org","reason":"manual"}`,
		vocab.Staff:          `{"email":"new{n}@example.org","password":"a-long-password","passwordConfirm":"a-long-password","role":"comms"}`,
		vocab.Charity:        `{"name":"Second {n}","postal_address":"1 Road, Town","website":"https://example.org","consent_wording":"Yes"}`,
		vocab.Campaigns:      `{"name":"Campaign {n}","subject":"News for {{.FirstName}}","body_format":"markdown","body":"Hello {n}","topics":["{topic}"]}`,
		vocab.Deliveries:     `{"campaign":"{campaign}","supporter":"{supporter}","email":"new{n}@example.org","status":"queued"}`,
		vocab.Donations:      `{"supporter":"{supporter}","amount_pence":1000,"currency":"GBP","donated_on":"2026-01-01 00:00:00.000Z","method":"cash"}`,
		vocab.Pledges:        `{"supporter":"{supporter}","amount_pence":250,"frequency":"weekly","starts_on":"2026-01-01 00:00:00.000Z","status":"active"}`,
		vocab.Declarations:   `{"supporter":"{supporter}","first_name":"Ann","last_name":"Other {n}","house":"1","address":"High St","postcode":"LS1 1AA","declared_on":"2026-01-01 00:00:00.000Z","scope":"past_and_future","method":"written"}`,
		vocab.Timeline:       `{"kind":"signup","summary":"Forged {n}"}`,
		vocab.Giving:         `{"donated_pence":100000}`,
		vocab.Events:         `{"name":"Event {n}","source":"manual"}`,
		vocab.SyncRuns:       `{"source":"facebook","trigger":"manual"}`,
		vocab.BounceReports:  `{"event_key":"test:{n}","source":"test","kind":"soft","ref":"dnone"}`,
		vocab.Checkouts:      `{"form":"donate","frequency":"one_off","amount_pence":1000,"email":"new{n}@example.org","status":"open"}`,
		vocab.Schedules:      `{"name":"Monthly {n}","enabled":true,"spec":"0 9 1 * *","subject":"News for {{.FirstName}}","body_format":"markdown","body":"Hello {n}","topics":["{topic}"]}`,
		vocab.Journeys:       `{"name":"Journey {n}","trigger":"confirmed"}`,
		vocab.Segments:       `{"name":"Segment {n}","tags":["leeds"],"postcode_areas":["LS"]}`,
		vocab.JourneySteps:   `{"journey":"{journey}","delay_hours":72,"subject":"Hello {{.FirstName}}","body_format":"markdown","body":"Hi {n}"}`,
		vocab.JourneySends:   `{"journey":"{journey}","step":"s{n}","supporter":"{supporter}","status":"skipped"}`,
		vocab.Audit:          `{"action":"forged.{n}","target":"staff/x"}`,
		vocab.TrackingEvents: `{"delivery":"d{n}","campaign":"c{n}","supporter":"{supporter}","kind":"open"}`,
	}
	updateField = map[string]string{
		vocab.Supporters:     "notes",
		vocab.Topics:         "name",
		vocab.Consents:       "wording",
		vocab.Outbox:         "subject",
		vocab.Suppressions:   "note",
		vocab.Staff:          "name",
		vocab.Charity:        "tagline",
		vocab.Campaigns:      "name",
		vocab.Deliveries:     "last_error",
		vocab.Donations:      "notes",
		vocab.Pledges:        "purpose",
		vocab.Declarations:   "address",
		vocab.Timeline:       "summary",
		vocab.Giving:         "gift_aid",
		vocab.Events:         "blurb",
		vocab.SyncRuns:       "error",
		vocab.Schedules:      "name",
		vocab.BounceReports:  "effect",
		vocab.Checkouts:      "first_name",
		vocab.Journeys:       "name",
		vocab.Segments:       "name",
		vocab.JourneySteps:   "subject",
		vocab.JourneySends:   "last_error",
		vocab.Audit:          "detail",
		vocab.TrackingEvents: "url",
	}
)

// collections lists every collection and view the matrix covers.
var collections = []string{vocab.Supporters, vocab.Topics, vocab.Consents, vocab.Outbox, vocab.Suppressions, vocab.Staff, vocab.Charity,
	vocab.Campaigns, vocab.Deliveries, vocab.Donations, vocab.Pledges, vocab.Declarations, vocab.Timeline, vocab.Giving, vocab.Events, vocab.SyncRuns, vocab.Schedules, vocab.BounceReports, vocab.Checkouts,
	vocab.Journeys, vocab.JourneySteps, vocab.JourneySends, vocab.Segments, vocab.Audit, vocab.TrackingEvents}

func TestAPIRules(t *testing.T) {
	f := newFixtures(t)
	seen := map[string]int{}
	for _, r := range rules {
		name := fmt.Sprintf("%s/%s/%s", r.coll, r.act, r.role)
		if r.note != "" {
			name += "/" + r.note
		}
		if seen[name]++; seen[name] > 1 {
			t.Fatalf("duplicate row %s", name)
		}
		t.Run(name, func(t *testing.T) {
			switch r.act {
			case list:
				testList(t, f, r)
			case view:
				testView(t, f, r)
			case create:
				testCreate(t, f, r)
			case update:
				testUpdate(t, f, r)
			case del:
				testDelete(t, f, r)
			}
		})
	}
	// Every collection × role × action has a row.
	for _, c := range collections {
		for _, a := range []action{list, view, create, update, del} {
			for _, ro := range []role{anon, comms, admin, super} {
				if seen[fmt.Sprintf("%s/%s/%s", c, a, ro)] == 0 {
					t.Errorf("no row for %s/%s/%s", c, a, ro)
				}
			}
		}
	}
}

func testList(t *testing.T, f *fx, r row) {
	status, body := f.do(t, r.role, http.MethodGet, "/api/collections/"+r.coll+"/records?perPage=1000", "")
	if status != r.want {
		t.Fatalf("status %d, want %d: %s", status, r.want, body)
	}
	if status != http.StatusOK {
		if strings.Contains(body, `"items"`) {
			t.Fatalf("refused list returned items: %s", body)
		}
		return
	}
	var res struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		TotalItems int `json:"totalItems"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, it := range res.Items {
		got[it.ID] = true
	}
	want := map[string]bool{}
	if r.sees != seesNone {
		recs, err := f.env.App.FindRecordsByFilter(r.coll, r.sees, "", 0, 0, dbx.Params{"self": f.id(r.role)})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			t.Fatalf("fixture problem: no %s records match %q", r.coll, r.sees)
		}
		for _, rec := range recs {
			want[rec.Id] = true
		}
	}
	if !reflect.DeepEqual(got, want) || res.TotalItems != len(want) {
		t.Fatalf("listed %d items (total %d) %v, want exactly the %d records matching %q: %v", len(got), res.TotalItems, got, len(want), r.sees, want)
	}
	if r.coll == vocab.Topics && r.sees == seesPublic && got[f.hidden.Id] {
		t.Fatal("non-public topic listed")
	}
}

func testView(t *testing.T, f *fx, r row) {
	target := f.target(t, r, false)
	status, body := f.do(t, r.role, http.MethodGet, recordPath(r.coll, target.Id), "")
	if status != r.want {
		t.Fatalf("status %d, want %d: %s", status, r.want, body)
	}
	if status == http.StatusOK {
		if id := jsonID(t, body); id != target.Id {
			t.Fatalf("viewed record %q, want %q", id, target.Id)
		}
	} else if strings.Contains(body, target.Id) {
		t.Fatalf("refused view leaks the record: %s", body)
	}
}

func testCreate(t *testing.T, f *fx, r row) {
	n := f.next()
	body := r.body
	if body == "" {
		body = createBody[r.coll]
	}
	campaign := ""
	if strings.Contains(body, "{campaign}") {
		campaign = f.make(t, vocab.Campaigns).Id
	}
	body = strings.NewReplacer("{n}", fmt.Sprint(n), "{supporter}", f.supporter.Id, "{topic}", f.shared[vocab.Topics].Id, "{campaign}", campaign, "{journey}", f.shared[vocab.Journeys].Id).Replace(body)
	before := f.count(t, r.coll)
	status, resp := f.do(t, r.role, http.MethodPost, "/api/collections/"+r.coll+"/records", body)
	if status != r.want {
		t.Fatalf("status %d, want %d: %s", status, r.want, resp)
	}
	saysWhy(t, r, resp)
	after := f.count(t, r.coll)
	if status != http.StatusOK {
		if after != before {
			t.Fatalf("refused create changed the count from %d to %d", before, after)
		}
		return
	}
	if after != before+1 {
		t.Fatalf("create changed the count from %d to %d, want +1", before, after)
	}
	rec, err := f.env.App.FindRecordById(r.coll, jsonID(t, resp))
	if err != nil {
		t.Fatalf("created record not stored: %v", err)
	}
	if r.check != nil {
		r.check(t, f, rec)
	}
}

func testUpdate(t *testing.T, f *fx, r row) {
	target := f.target(t, r, true)
	body, field, value := r.body, r.field, r.value
	if body == "" {
		field = updateField[r.coll]
		value = fmt.Sprintf("Edited %d", f.next())
		body = fmt.Sprintf(`{%q:%q}`, field, value)
	}
	before := f.export(t, target)
	status, resp := f.do(t, r.role, http.MethodPatch, recordPath(r.coll, target.Id), body)
	if status != r.want {
		t.Fatalf("status %d, want %d: %s", status, r.want, resp)
	}
	saysWhy(t, r, resp)
	fresh, err := f.env.App.FindRecordById(r.coll, target.Id)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		if after := f.export(t, fresh); !reflect.DeepEqual(after, before) {
			t.Fatalf("refused update changed the record:\nbefore %v\nafter  %v", before, after)
		}
		return
	}
	if field == "" {
		t.Fatal("allowed update row must name the field it changes")
	}
	if got := fresh.GetString(field); got != value {
		t.Fatalf("after update %s = %q, want %q", field, got, value)
	}
	if r.check != nil {
		r.check(t, f, fresh)
	}
}

func testDelete(t *testing.T, f *fx, r row) {
	target := f.target(t, r, true)
	before := f.export(t, target)
	status, resp := f.do(t, r.role, http.MethodDelete, recordPath(r.coll, target.Id), "")
	if status != r.want {
		t.Fatalf("status %d, want %d: %s", status, r.want, resp)
	}
	saysWhy(t, r, resp)
	fresh, err := f.env.App.FindRecordById(r.coll, target.Id)
	if status == http.StatusNoContent {
		if err == nil {
			t.Fatal("deleted record still exists")
		}
		return
	}
	if err != nil {
		t.Fatalf("refused delete removed the record: %v", err)
	}
	if after := f.export(t, fresh); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused delete changed the record:\nbefore %v\nafter  %v", before, after)
	}
}

// saysWhy checks that a refusal explains itself, where the row says how.
func saysWhy(t *testing.T, r row, resp string) {
	t.Helper()
	if r.says != "" && !strings.Contains(resp, r.says) {
		t.Fatalf("answer %s doesn't say %q", resp, r.says)
	}
}

// Targets for special rows.

func hiddenTopic(_ *testing.T, f *fx) *core.Record { return f.hidden }

func self(_ *testing.T, f *fx) *core.Record { return f.actor[comms] }

func hiddenEvent(_ *testing.T, f *fx) *core.Record { return f.hiddenEvent }

func removedEvent(_ *testing.T, f *fx) *core.Record { return f.removedEvent }

// topicOf is a fresh topic that a fresh record of coll refers to.
func topicOf(coll string) func(*testing.T, *fx) *core.Record {
	return func(t *testing.T, f *fx) *core.Record {
		topic := f.make(t, vocab.Topics)
		var user *core.Record
		if coll == vocab.Consents { // written once, as the app writes them
			user = core.NewRecord(testkit.Collection(t, f.env.App, coll))
			user.Load(map[string]any{"supporter": f.supporter.Id, "action": vocab.ActionGrant, "basis": vocab.BasisConsent, "method": vocab.MethodStaff, "wording": "I agree"})
		} else {
			user = f.make(t, coll)
		}
		user.Set("topics", []string{topic.Id})
		if err := f.env.App.Save(user); err != nil {
			t.Fatal(err)
		}
		return topic
	}
}

// nextRunSet checks that a schedule saved through the API got its next run
// from its spec.
func nextRunSet(t *testing.T, _ *fx, rec *core.Record) {
	t.Helper()
	if rec.GetBool("enabled") && rec.GetDateTime("next_run_at").IsZero() {
		t.Fatal("next_run_at not computed from the spec")
	}
}

func confirmedConsent(t *testing.T, f *fx) *core.Record {
	// Reload first: the guard compares with Original(), which PocketBase
	// leaves blank on a record created in memory.
	r, err := f.env.App.FindRecordById(vocab.Consents, f.make(t, vocab.Consents).Id)
	if err != nil {
		t.Fatal(err)
	}
	r.Set("confirmed_at", "2025-06-07 08:09:10.000Z")
	if err := f.env.App.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// newDraft checks a campaign created through the API: a draft with a preview
// link and none of the engine's fields set.
func newDraft(t *testing.T, f *fx, rec *core.Record) {
	t.Helper()
	storedStatus(vocab.CampaignDraft)(t, f, rec)
	zeroCounters(t, f, rec)
	if !strings.HasPrefix(rec.GetString("preview_url"), f.env.URL+"/preview?token=") {
		t.Fatalf("preview_url = %q", rec.GetString("preview_url"))
	}
}

// zeroCounters checks that a campaign's engine-owned fields are unset.
func zeroCounters(t *testing.T, _ *fx, rec *core.Record) {
	t.Helper()
	if rec.GetInt("total") != 0 || rec.GetInt("sent") != 0 || rec.GetString("last_error") != "" || !rec.GetDateTime("started_at").IsZero() {
		t.Fatalf("engine fields set through the API: total %d sent %d last_error %q started_at %v",
			rec.GetInt("total"), rec.GetInt("sent"), rec.GetString("last_error"), rec.GetDateTime("started_at"))
	}
}

// countedCampaign is a paused campaign part-way through: the engine's
// fields hold values an update must keep.
func countedCampaign(t *testing.T, f *fx) *core.Record {
	r, err := f.env.App.FindRecordById(vocab.Campaigns, f.make(t, vocab.Campaigns).Id)
	if err != nil {
		t.Fatal(err)
	}
	r.Set("status", vocab.CampaignPaused)
	r.Set("total", 5)
	r.Set("sent", 3)
	r.Set("last_error", "relay down")
	r.Set("started_at", "2025-06-07 08:09:10.000Z")
	if err := f.env.App.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func keptCounters(t *testing.T, _ *fx, rec *core.Record) {
	t.Helper()
	if rec.GetInt("total") != 5 || rec.GetInt("sent") != 3 || rec.GetString("last_error") != "relay down" || rec.GetDateTime("started_at").String() != "2025-06-07 08:09:10.000Z" {
		t.Fatalf("engine fields changed through the API: total %d sent %d last_error %q started_at %v",
			rec.GetInt("total"), rec.GetInt("sent"), rec.GetString("last_error"), rec.GetDateTime("started_at"))
	}
}

func storedStatus(status string) func(*testing.T, *fx, *core.Record) {
	return func(t *testing.T, _ *fx, rec *core.Record) {
		t.Helper()
		if got := rec.GetString("status"); got != status {
			t.Fatalf("status = %q, want %q", got, status)
		}
	}
}

func storedField(field, value string) func(*testing.T, *fx, *core.Record) {
	return func(t *testing.T, _ *fx, rec *core.Record) {
		t.Helper()
		if got := rec.GetString(field); got != value {
			t.Fatalf("%s = %q, want %q", field, got, value)
		}
	}
}

// storedHash checks that a suppression holds the SHA-256 hex of address.
func storedHash(address string) func(*testing.T, *fx, *core.Record) {
	return func(t *testing.T, _ *fx, rec *core.Record) {
		sum := sha256.Sum256([]byte(address))
		if got, want := rec.GetString("email_hash"), hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("email_hash = %q, want sha256(%q) = %q", got, address, want)
		}
	}
}

// fx holds one running app, the callers and the shared records.
type fx struct {
	env       *testkit.Env
	actor     map[role]*core.Record
	token     map[role]string
	shared    map[string]*core.Record // the default view target per collection
	hidden    *core.Record            // a non-public topic
	supporter *core.Record            // consents point at it
	seq       int

	hiddenEvent, removedEvent *core.Record // left off the public events page
}

func newFixtures(t *testing.T) *fx {
	f := &fx{
		env:    testkit.Start(t, testkit.Options{}),
		actor:  map[role]*core.Record{},
		token:  map[role]string{},
		shared: map[string]*core.Record{},
	}
	for ro, coll := range map[role]string{comms: vocab.Staff, admin: vocab.Staff, super: core.CollectionNameSuperusers} {
		col, err := f.env.App.FindCollectionByNameOrId(coll)
		if err != nil {
			t.Fatal(err)
		}
		rec := core.NewRecord(col)
		rec.SetEmail(ro.String() + "@example.org")
		rec.SetPassword("a-long-password")
		if coll == vocab.Staff {
			rec.Set("role", ro.String())
			rec.Set("name", ro.String())
		}
		if err := f.env.App.Save(rec); err != nil {
			t.Fatal(err)
		}
		tok, err := rec.NewAuthToken()
		if err != nil {
			t.Fatal(err)
		}
		f.actor[ro], f.token[ro] = rec, tok
	}
	f.supporter = f.make(t, vocab.Supporters)
	for _, c := range collections {
		f.shared[c] = f.make(t, c)
	}
	f.hidden = f.make(t, vocab.Topics)
	f.hidden.Set("public", false)
	if err := f.env.App.Save(f.hidden); err != nil {
		t.Fatal(err)
	}
	for flag, ev := range map[string]**core.Record{"hidden": &f.hiddenEvent, "removed": &f.removedEvent} {
		*ev = f.make(t, vocab.Events)
		(*ev).Set(flag, true)
		if err := f.env.App.Save(*ev); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// make saves a new record of coll directly (hooks run, rules don't). For
// charity it returns the single identity record.
func (f *fx) make(t *testing.T, coll string) *core.Record {
	t.Helper()
	if coll == vocab.Charity {
		recs, err := f.env.App.FindAllRecords(vocab.Charity)
		if err != nil || len(recs) != 1 {
			t.Fatalf("want one charity record, got %d (%v)", len(recs), err)
		}
		return recs[0]
	}
	col, err := f.env.App.FindCollectionByNameOrId(coll)
	if err != nil {
		t.Fatal(err)
	}
	n := f.next()
	r := core.NewRecord(col)
	switch coll {
	case vocab.Supporters:
		r.Set("email", fmt.Sprintf("fixture%d@example.org", n))
		r.Set("status", vocab.StatusSubscribed)
	case vocab.Topics:
		r.Set("name", fmt.Sprintf("Fixture %d", n))
		r.Set("slug", fmt.Sprintf("fixture-%d", n))
		r.Set("public", true)
	case vocab.Consents:
		r.Set("supporter", f.supporter.Id)
		r.Set("action", vocab.ActionGrant)
		r.Set("basis", vocab.BasisConsent)
		r.Set("method", vocab.MethodStaff)
		r.Set("wording", "I agree")
	case vocab.Outbox:
		r.Set("to", fmt.Sprintf("fixture%d@example.org", n))
		r.Set("kind", vocab.KindTest)
		r.Set("subject", "Fixture")
		r.Set("status", vocab.OutboxCancelled) // the worker leaves it alone
	case vocab.Suppressions:
		sum := sha256.Sum256(fmt.Appendf(nil, "fixture%d@example.org", n))
		r.Set("email_hash", hex.EncodeToString(sum[:]))
		r.Set("reason", vocab.SuppressManual)
	case vocab.Staff:
		r.SetEmail(fmt.Sprintf("fixture%d@example.org", n))
		r.SetPassword("a-long-password")
		r.Set("role", vocab.RoleComms)
		r.Set("name", fmt.Sprintf("Fixture %d", n))
	case vocab.Campaigns: // a draft: the engine leaves it alone
		r.Set("name", fmt.Sprintf("Fixture %d", n))
		r.Set("subject", "Hello {{.FirstName}}")
		r.Set("body_format", vocab.FormatMarkdown)
		r.Set("body", "Fixture body")
		r.Set("topics", []string{f.shared[vocab.Topics].Id})
		r.Set("status", vocab.CampaignDraft)
	case vocab.Deliveries: // its own supporter: one delivery per campaign and supporter
		r.Set("campaign", f.shared[vocab.Campaigns].Id)
		r.Set("supporter", f.make(t, vocab.Supporters).Id)
		r.Set("email", fmt.Sprintf("fixture%d@example.org", n))
		r.Set("status", vocab.DeliveryQueued)
	case vocab.Donations: // method other: no thank-you email
		r.Load(map[string]any{"supporter": f.supporter.Id, "amount_pence": 500 + n, "currency": "GBP", "donated_on": "2026-01-01 00:00:00.000Z", "method": "other"})
	case vocab.Checkouts:
		r.Load(map[string]any{"form": "donate", "frequency": "one_off", "amount_pence": 1000, "email": fmt.Sprintf("fixture%d@example.org", n), "status": "open"})
	case vocab.Pledges:
		r.Load(map[string]any{"supporter": f.supporter.Id, "amount_pence": 250, "frequency": vocab.PledgeMonthly, "starts_on": "2026-01-01 00:00:00.000Z", "status": vocab.PledgeActive})
	case vocab.Declarations:
		r.Load(map[string]any{"supporter": f.supporter.Id, "first_name": "Fixture", "last_name": fmt.Sprint(n), "house": "1", "address": "High St",
			"postcode": "LS1 1AA", "declared_on": "2026-01-01 00:00:00.000Z", "scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredWritten})
	case vocab.Timeline: // a fresh supporter's signup row
		return f.viewRow(t, coll, "a"+f.make(t, vocab.Supporters).Id)
	case vocab.Giving: // a fresh supporter who gave
		sup := f.make(t, vocab.Supporters)
		d := f.make(t, vocab.Donations)
		d.Set("supporter", sup.Id)
		if err := f.env.App.Save(d); err != nil {
			t.Fatal(err)
		}
		return f.viewRow(t, coll, sup.Id)
	case vocab.Events:
		r.Set("name", fmt.Sprintf("Fixture %d", n))
		r.Set("source", vocab.SourceManual)
	case vocab.SyncRuns:
		r.Set("source", "facebook")
		r.Set("trigger", "cron")
	case vocab.Segments:
		r.Set("name", fmt.Sprintf("Fixture %d", n))
	case vocab.Journeys: // disabled: nobody starts it
		r.Set("name", fmt.Sprintf("Fixture %d", n))
		r.Set("trigger", vocab.TriggerConfirmed)
	case vocab.JourneySteps:
		r.Load(map[string]any{"journey": f.shared[vocab.Journeys].Id, "delay_hours": 24, "subject": "Hello {{.FirstName}}", "body_format": vocab.FormatMarkdown, "body": "Fixture body"})
	case vocab.JourneySends: // skipped: the worker leaves it alone
		r.Load(map[string]any{"journey": f.shared[vocab.Journeys].Id, "step": fmt.Sprintf("s%d", n), "supporter": f.supporter.Id, "status": vocab.DeliverySkipped})
	case vocab.Audit:
		r.Set("action", fmt.Sprintf("fixture.%d", n))
		r.Set("target", "staff/fixture")
	case vocab.TrackingEvents:
		r.Load(map[string]any{"delivery": fmt.Sprintf("d%d", n), "campaign": f.shared[vocab.Campaigns].Id, "supporter": f.supporter.Id, "kind": vocab.TrackOpen})
	case vocab.Schedules: // disabled: the runner leaves it alone
		r.Set("name", fmt.Sprintf("Fixture %d", n))
		r.Set("spec", "@monthly")
		r.Set("subject", "Hello {{.FirstName}}")
		r.Set("body_format", vocab.FormatMarkdown)
		r.Set("body", "Fixture body")
		r.Set("topics", []string{f.shared[vocab.Topics].Id})
	case vocab.BounceReports:
		r.Load(map[string]any{"event_key": fmt.Sprintf("fixture:%d", n), "source": "fixture", "kind": "soft", "ref": "dnone", "supporter": f.supporter.Id})
	default:
		t.Fatalf("no fixture for %s", coll)
	}
	if err := f.env.App.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// viewRow reads one row of a view collection.
func (f *fx) viewRow(t *testing.T, coll, id string) *core.Record {
	t.Helper()
	r, err := f.env.App.FindRecordById(coll, id)
	if err != nil {
		t.Fatalf("no %s row %s: %v", coll, id, err)
	}
	return r
}

// target is the record a view/update/delete row acts on: its own, else a
// fresh one for writes (so rows don't interfere), else the shared one.
func (f *fx) target(t *testing.T, r row, write bool) *core.Record {
	t.Helper()
	switch {
	case r.target != nil:
		return r.target(t, f)
	case write:
		return f.make(t, r.coll)
	default:
		return f.shared[r.coll]
	}
}

func (f *fx) next() int { f.seq++; return f.seq }

func (f *fx) id(r role) string {
	if a := f.actor[r]; a != nil {
		return a.Id
	}
	return ""
}

func (f *fx) count(t *testing.T, coll string) int64 {
	t.Helper()
	n, err := f.env.App.CountRecords(coll)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// export reads the stored row afresh, as the database holds it.
func (f *fx) export(t *testing.T, rec *core.Record) map[string]string {
	t.Helper()
	fresh, err := f.env.App.FindRecordById(rec.Collection(), rec.Id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fresh.DBExport(f.env.App)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func (f *fx) do(t *testing.T, r role, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := f.token[r]; tok != "" {
		req.Header.Set("Authorization", tok)
	}
	res, err := testkit.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func recordPath(coll, id string) string {
	return "/api/collections/" + coll + "/records/" + id
}

func jsonID(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.ID == "" {
		t.Fatalf("no record id in response %q (%v)", body, err)
	}
	return v.ID
}

// PocketBase's default "users" collection would let anyone register an
// account; the app has no end-user accounts, so it is removed.
func TestNoOpenRegistration(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	status, body := env.PostJSON(t, "/api/collections/users/records", `{"email":"x@example.org","password":"longpassword1","passwordConfirm":"longpassword1"}`)
	if status != 404 {
		t.Fatalf("anonymous registration = %d %s, want 404", status, body)
	}
	if _, err := env.App.FindCollectionByNameOrId("users"); err == nil {
		t.Fatal("the users collection still exists")
	}
}

// The batch API runs the same record handlers, so an admin who switches it
// on still can't forge, alter or remove consent evidence, or lift a
// suppression, as a superuser.
func TestBatchCantWriteEvidence(t *testing.T) {
	f := newFixtures(t)
	s := f.env.App.Settings()
	s.Batch.Enabled = true
	s.Batch.MaxRequests = 10
	if err := f.env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	consent, suppression := f.make(t, vocab.Consents), f.make(t, vocab.Suppressions)
	for name, req := range map[string]string{
		"create consent":     `{"method":"POST","url":"/api/collections/consents/records","body":{"supporter":"` + f.supporter.Id + `","action":"grant","basis":"consent","method":"web_form","wording":"Forged"}}`,
		"update consent":     `{"method":"PATCH","url":"/api/collections/consents/records/` + consent.Id + `","body":{"wording":"Forged"}}`,
		"delete consent":     `{"method":"DELETE","url":"/api/collections/consents/records/` + consent.Id + `"}`,
		"delete suppression": `{"method":"DELETE","url":"/api/collections/suppressions/records/` + suppression.Id + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			before := testkit.Dump(t, f.env.App, vocab.Consents, vocab.Suppressions)
			status, body := f.do(t, super, http.MethodPost, "/api/batch", `{"requests":[`+req+`]}`)
			if status == http.StatusOK {
				t.Fatalf("batch answered 200: %s", body)
			}
			if after := testkit.Dump(t, f.env.App, vocab.Consents, vocab.Suppressions); after != before {
				t.Fatalf("a refused batch changed the evidence:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
