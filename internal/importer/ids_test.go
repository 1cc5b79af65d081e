package importer

import (
	"regexp"
	"testing"
)

// The ids an import makes have PocketBase's shape, ascend in the order
// they are made (so they land at the end of the id indexes), and two
// imports do not share them.
func TestImportIDsAscendInPocketBaseShape(t *testing.T) {
	shape := regexp.MustCompile(`^[a-z0-9]{15}$`)
	a, b := newIDs(), newIDs()
	if a.prefix == b.prefix {
		t.Fatalf("two imports share the prefix %q", a.prefix)
	}
	prev := ""
	for i := range 100_000 {
		id := a.id()
		if !shape.MatchString(id) {
			t.Fatalf("id %d = %q, not 15 of [a-z0-9]", i, id)
		}
		if id <= prev {
			t.Fatalf("id %d = %q does not sort after %q", i, id, prev)
		}
		prev = id
	}
}
