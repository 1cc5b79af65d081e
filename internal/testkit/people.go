package testkit

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// Given and family names for People: common British names, a few with
// accents, apostrophes and spaces, so searches meet what a real list holds.
var (
	givenNames  = []string{"Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo", "Freya", "Arthur", "Lily", "Muhammad", "Florence", "Oscar", "Grace", "Charlie", "Sophia", "Jacob", "Evie", "Thomas", "Poppy", "Zoë", "Siân", "José", "Aoife", "Priya", "Chloé", "Kwame", "Mary-Jane", "Dylan", "Niamh", "Ravi", "Agnieszka", "Tomás", "Fatima", "Eilidh", "Ben"}
	familyNames = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "O'Neill", "MacDonald", "Nowak", "Khan", "Okafor", "Müller", "de la Cruz", "Ní Bhriain", "Ahmed", "Singh", "Hughes", "Edwards", "Lewis", "Murphy", "Kelly", "Price", "Begum", "Kowalski", "Fraser"}
	peopleTags  = []string{"volunteer", "leeds", "donor", "church", "event-2025"}
)

// People stores n supporters with varied names, for searches and lists at
// scale: person i is givenNames[i%40] familyNames[(i/40)%40], address
// person%06d@example.org; four in five are subscribed, the rest pending,
// unsubscribed or bounced; every one is in the newsletter topic, every
// third in events too, every seventh has a tag. Rows go in by plain SQL
// INSERTs in one transaction (as the importer writes), so 100,000 take a
// few seconds rather than the minutes of a record save each.
func People(t testing.TB, app core.App, n int) {
	t.Helper()
	topic := func(slug string) string {
		r, err := app.FindFirstRecordByData(vocab.Topics, "slug", slug)
		if err != nil {
			t.Fatal(err)
		}
		return r.Id
	}
	newsletter, events := topic("newsletter"), topic("events")
	statuses := []string{vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusPending, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusUnsubscribed, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusBounced}
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	err := app.RunInTransaction(func(tx core.App) error {
		p := dbx.Params{}
		q := tx.DB().NewQuery(`INSERT INTO supporters (id, email, first_name, last_name, status, topics, tags, source, created, updated)
			VALUES ({:id}, {:email}, {:first}, {:last}, {:status}, {:topics}, {:tags}, 'test', {:at}, {:at})`).Bind(p).Prepare()
		defer q.Close()
		for i := range n {
			topics := []string{newsletter}
			if i%3 == 0 {
				topics = append(topics, events)
			}
			tags := []string{}
			if i%7 == 0 {
				tags = append(tags, peopleTags[(i/7)%len(peopleTags)])
			}
			tj, _ := json.Marshal(topics)
			gj, _ := json.Marshal(tags)
			at, _ := types.ParseDateTime(start.Add(time.Duration(i) * time.Minute))
			p["id"] = fmt.Sprintf("p%014d", i)
			p["email"] = fmt.Sprintf("person%06d@example.org", i)
			p["first"] = givenNames[i%len(givenNames)]
			p["last"] = familyNames[(i/len(givenNames))%len(familyNames)]
			p["status"] = statuses[i%len(statuses)]
			p["topics"], p["tags"], p["at"] = string(tj), string(gj), at.String()
			if _, err := q.Execute(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
