package journeys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/clip"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/vocab"
)

// due is a send whose time has come (or whose worker's claim ran out).
type due struct {
	ID        string `db:"id"`
	Step      string `db:"step"`
	Journey   string `db:"journey"`
	Supporter string `db:"supporter"`
	Attempts  int    `db:"attempts"`
}

// Tick sends every step that is due, over one connection, and returns when
// they are done, ctx ends, or the relay can't be reached (an error: the
// rest stay as they were, for the next pass).
func (s *Service) Tick(ctx context.Context) error {
	for ctx.Err() == nil {
		var rows []due
		err := s.App.DB().NewQuery(`SELECT js.id, js.step, js.journey, js.supporter, js.attempts
			FROM {{journey_sends}} js JOIN {{journeys}} j ON j.id = js.journey
			WHERE js.status IN ({:queued}, {:sending}) AND js.due_at <= {:now} AND j.enabled = TRUE
			ORDER BY js.due_at LIMIT {:n}`).
			Bind(dbx.Params{"queued": vocab.SendQueued, "sending": vocab.SendSending, "now": stamp(s.now()), "n": s.Config.Batch}).All(&rows)
		if err != nil || len(rows) == 0 {
			return err
		}
		p := &pass{s: s, singles: map[string]*single{}}
		err = p.send(ctx, rows)
		p.close()
		if err != nil || len(rows) < s.Config.Batch {
			return err
		}
	}
	return nil
}

// pass is one batch of sends: one connection, and each step compiled once.
type pass struct {
	s       *Service
	conn    mailsend.Sender
	singles map[string]*single
}

// single is a step ready to send, or why it can't be.
type single struct {
	step *core.Record
	out  *campaigns.Single
	err  string
}

func (p *pass) close() {
	if p.conn != nil {
		p.conn.Close()
	}
	for _, sg := range p.singles {
		if sg.out != nil {
			sg.out.Close()
		}
	}
}

func (p *pass) send(ctx context.Context, rows []due) error {
	for _, d := range rows {
		if ctx.Err() != nil {
			return nil
		}
		sg, err := p.single(d)
		if err != nil {
			return err
		}
		if err := p.sendOne(ctx, d, sg); err != nil {
			return err
		}
	}
	return nil
}

// single is the step of d compiled, once per pass: content is read now, so
// an edit reaches everyone still waiting.
func (p *pass) single(d due) (*single, error) {
	if sg, ok := p.singles[d.Step]; ok {
		return sg, nil
	}
	sg := &single{}
	p.singles[d.Step] = sg
	step, err := p.s.App.FindRecordById(vocab.JourneySteps, d.Step)
	if errors.Is(err, sql.ErrNoRows) {
		sg.err = "the step was removed"
		return sg, nil
	}
	if err != nil {
		return nil, err
	}
	sg.step = step
	journey, err := p.s.App.FindRecordById(vocab.Journeys, d.Journey)
	if err != nil {
		return nil, err
	}
	listTopics := journey.GetStringSlice("topics")
	audience := listTopics
	if len(audience) == 0 { // everyone subscribed: in any topic at all
		if err := p.s.App.DB().Select("id").From(vocab.Topics).Column(&audience); err != nil {
			return nil, err
		}
	}
	if sg.out, err = p.s.Engine.NewSingle(campaigns.ContentOf(step), audience, listTopics); err != nil {
		sg.err = clip.Runes("it no longer renders: "+err.Error(), 2000)
	}
	return sg, nil
}

// sendOne claims d, sends it and records what became of it.
func (p *pass) sendOne(ctx context.Context, d due, sg *single) error {
	now := p.s.now()
	res, err := p.s.App.DB().NewQuery(`UPDATE {{journey_sends}} SET status = {:sending}, due_at = {:until}, updated = {:now}
		WHERE id = {:id} AND status IN ({:queued}, {:sending}) AND due_at <= {:now}`).
		Bind(dbx.Params{"id": d.ID, "sending": vocab.SendSending, "queued": vocab.SendQueued,
			"until": stamp(now.Add(claimFor)), "now": stamp(now)}).Execute()
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // another worker took it, or it was skipped meanwhile
	}
	if sg.out == nil {
		status := vocab.DeliverySkipped
		if sg.step != nil {
			status = vocab.DeliveryFailed
		}
		return p.record(d, sg, campaigns.Outcome{Status: status, Attempts: d.Attempts, Err: sg.err})
	}
	var sup struct {
		Email string `db:"email"`
		First string `db:"first_name"`
		Last  string `db:"last_name"`
	}
	if err := p.s.App.DB().Select("email", "first_name", "last_name").From(vocab.Supporters).
		Where(dbx.HashExp{"id": d.Supporter}).One(&sup); err != nil {
		return errors.Join(err, p.release(d))
	}
	if p.conn == nil {
		if p.conn, err = p.s.Engine.Dial(ctx); err != nil {
			p.conn = nil
			return errors.Join(err, p.release(d))
		}
	}
	out, broken, err := sg.out.Send(ctx, p.conn, campaigns.Addressee{ID: d.ID, Supporter: d.Supporter, Email: sup.Email,
		FirstName: sup.First, LastName: sup.Last, Attempts: d.Attempts})
	if broken {
		p.conn.Close()
		p.conn = nil
	}
	if err != nil {
		return errors.Join(err, p.release(d))
	}
	if out.Hard {
		return p.s.App.RunInTransaction(func(tx core.App) error {
			if err := p.recordIn(tx, d, sg, out); err != nil {
				return err
			}
			return p.s.Engine.RecordHardBounce(tx, "journey step "+d.Step, d.Supporter, sup.Email, out.Note)
		})
	}
	return p.record(d, sg, out)
}

// release gives a claimed send back, due at once, with no attempt used.
func (p *pass) release(d due) error {
	_, err := p.s.App.DB().Update(vocab.JourneySends, dbx.Params{"status": vocab.SendQueued, "due_at": stamp(p.s.now())},
		dbx.HashExp{"id": d.ID, "status": vocab.SendSending}).Execute()
	return err
}

func (p *pass) record(d due, sg *single, out campaigns.Outcome) error {
	return p.s.App.RunInTransaction(func(tx core.App) error { return p.recordIn(tx, d, sg, out) })
}

// recordIn writes the outcome of a claimed send and counts it on its step.
// A temporary failure is due again after the engine's retry delay.
func (p *pass) recordIn(tx core.App, d due, sg *single, out campaigns.Outcome) error {
	now := p.s.now()
	set := dbx.Params{"status": out.Status, "attempts": out.Attempts, "last_error": clip.Runes(out.Err, 2000), "updated": stamp(now)}
	if sg.step != nil {
		set["subject"] = clip.Runes(sg.step.GetString("subject"), 300)
	}
	switch out.Status {
	case vocab.DeliverySent:
		set["message_id"], set["sent_at"] = out.MessageID, stamp(now)
	case vocab.DeliveryQueued:
		set["due_at"] = stamp(now.Add(max(time.Until(out.Next), 0)))
	}
	res, err := tx.DB().Update(vocab.JourneySends, set, dbx.HashExp{"id": d.ID, "status": vocab.SendSending}).Execute()
	if err != nil {
		return fmt.Errorf("failed to record a journey send: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return count(tx, d.Step, out.Status, 1)
}
