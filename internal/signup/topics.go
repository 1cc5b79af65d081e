package signup

import (
	"fmt"
	"sync"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// TopicCache keeps the (small, rarely edited) topics table in memory for the
// signup hot path, reloading it after any topic is created, changed or
// deleted.
type TopicCache struct {
	app    core.App
	mu     sync.RWMutex
	topics []Topic // every topic, in display order; nil means reload
}

// NewTopicCache returns a cache bound to app's topic hooks.
func NewTopicCache(app core.App) *TopicCache {
	c := &TopicCache{app: app}
	drop := func(e *core.RecordEvent) error {
		c.mu.Lock()
		c.topics = nil
		c.mu.Unlock()
		return e.Next()
	}
	app.OnRecordAfterCreateSuccess(vocab.Topics).BindFunc(drop)
	app.OnRecordAfterUpdateSuccess(vocab.Topics).BindFunc(drop)
	app.OnRecordAfterDeleteSuccess(vocab.Topics).BindFunc(drop)
	return c
}

// All returns every topic in display order.
func (c *TopicCache) All() ([]Topic, error) {
	c.mu.RLock()
	t := c.topics
	c.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	recs, err := c.app.FindRecordsByFilter(vocab.Topics, "", "sort_order,name", 0, 0)
	if err != nil {
		return nil, fmt.Errorf("failed to load topics: %w", err)
	}
	t = toTopics(recs)
	c.mu.Lock()
	c.topics = t
	c.mu.Unlock()
	return t, nil
}

// Public returns the topics offered to the public, in display order.
func (c *TopicCache) Public() ([]Topic, error) {
	all, err := c.All()
	if err != nil {
		return nil, err
	}
	var out []Topic
	for _, t := range all {
		if t.Public {
			out = append(out, t)
		}
	}
	return out, nil
}
