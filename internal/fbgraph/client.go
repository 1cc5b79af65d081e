package fbgraph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"supportercrm/internal/clip"
)

// Defaults for Config.
const (
	DefaultBaseURL = "https://graph.facebook.com"
	DefaultVersion = "v26.0"
)

// Fields asked for explicitly (the API returns little by default).
const (
	postFields  = "id,created_time,updated_time,message,permalink_url,full_picture,status_type,attachments{type,title,description,url,target,media}"
	eventFields = "id,name,description,start_time,end_time,timezone,place,cover,is_canceled,is_online,online_event_third_party_url,ticket_uri,updated_time,event_times"
)

// Config says where and as whom to read.
type Config struct {
	BaseURL  string // default https://graph.facebook.com (FACEBOOK_GRAPH_URL)
	Version  string // default v26.0
	PageID   string
	Token    string
	Client   *http.Client  // default: 20 s timeout
	MaxPages int           // stop following next after this many pages (default 50)
	Retries  int           // tries for transient failures (default 3)
	Backoff  time.Duration // first wait between tries, doubling (default 1 s)
	// UsageLimit stops a fetch when Facebook's usage headers reach this
	// percentage (default 95), before Facebook starts refusing.
	UsageLimit int
}

// Client reads one Page.
type Client struct {
	cfg  Config
	base *url.URL
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.PageID == "" || cfg.Token == "" {
		return nil, errors.New("facebook: a page id and an access token are needed")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 20 * time.Second}
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 50
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.UsageLimit <= 0 {
		cfg.UsageLimit = 95
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("facebook: invalid graph URL %q", cfg.BaseURL)
	}
	return &Client{cfg: cfg, base: base}, nil
}

// Posts returns the Page's posts published since the given time (Graph's
// since parameter, in Unix seconds; the whole feed when since is zero),
// newest first, following paging.next until it is absent. It returns what it
// read with an error if it had to stop early (the caller must not treat a
// partial list as complete); reaching MaxPages is a Capped error.
func (c *Client) Posts(ctx context.Context, since time.Time) ([]Post, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", strconv.FormatInt(since.Unix(), 10))
	}
	return fetchAll[Post](ctx, c, "posts", postFields, q)
}

// Events returns the Page's upcoming and past events from the events edge,
// which Meta grants only to some apps (else a NotPermitted error).
func (c *Client) Events(ctx context.Context) ([]Event, error) {
	return fetchAll[Event](ctx, c, "events", eventFields, nil)
}

// fetchAll collects every page of an edge, decoding its data as T. Params
// (such as since) go with the first request and are kept on paging links.
func fetchAll[T any](ctx context.Context, c *Client, edge, fields string, params url.Values) ([]T, error) {
	var out []T
	err := c.each(ctx, edge, fields, params, func(raw json.RawMessage) error {
		var page []T
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}

type envelope struct {
	Data   json.RawMessage `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
}

// each fetches an edge page by page.
func (c *Client) each(ctx context.Context, edge, fields string, params url.Values, page func(json.RawMessage) error) error {
	next := c.base.JoinPath(c.cfg.Version, c.cfg.PageID, edge)
	q := next.Query()
	for k, v := range params {
		q[k] = v
	}
	q.Set("fields", fields)
	q.Set("limit", "100")
	next.RawQuery = q.Encode()
	for n := 0; next != nil; n++ {
		if n == c.cfg.MaxPages {
			return &Error{Kind: Capped, Message: fmt.Sprintf("stopped after %d pages without reaching the end of the list", n)}
		}
		body, usage, err := c.get(ctx, next)
		if err != nil {
			return err
		}
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil || env.Data == nil {
			return &Error{Kind: Malformed, Status: http.StatusOK, Message: "response is not a data page"}
		}
		if err := page(env.Data); err != nil {
			return &Error{Kind: Malformed, Status: http.StatusOK, Message: c.redact(err.Error())}
		}
		if usage >= c.cfg.UsageLimit && env.Paging.Next != "" {
			return &Error{Kind: RateLimited, Message: fmt.Sprintf("usage at %d%% of Facebook's limit; stopping until the next run", usage)}
		}
		if next, err = c.follow(env.Paging.Next, params); err != nil {
			return err
		}
	}
	return nil
}

// follow checks a paging.next link: it must be on the configured Graph host
// (the token goes with it), and any token Facebook echoed in it is dropped
// (it travels in the header). A param of the first request that the link
// lacks (since) is put back, so that no page reaches outside the window.
func (c *Client) follow(link string, params url.Values) (*url.URL, error) {
	if link == "" {
		return nil, nil
	}
	u, err := url.Parse(link)
	if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return nil, &Error{Kind: Malformed, Message: "paging.next points outside the Graph API: " + c.redact(clip.Runes(link, 200))}
	}
	q := u.Query()
	q.Del("access_token")
	for k, v := range params {
		if !q.Has(k) {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// get performs one GET with retries for transient failures. It returns the
// body and the highest usage percentage Facebook reported.
func (c *Client) get(ctx context.Context, u *url.URL) ([]byte, int, error) {
	wait := c.cfg.Backoff
	var last error
	for try := 1; try <= c.cfg.Retries; try++ {
		body, usage, err := c.once(ctx, u)
		if err == nil {
			return body, usage, nil
		}
		last = err
		var ge *Error
		if !errors.As(err, &ge) || ge.Kind != Transient || try == c.cfg.Retries {
			return nil, 0, err
		}
		select {
		case <-ctx.Done():
			return nil, 0, &Error{Kind: Transient, Message: "cancelled: " + ctx.Err().Error()}
		case <-time.After(wait):
		}
		wait *= 2
	}
	return nil, 0, last
}

func (c *Client) once(ctx context.Context, u *url.URL) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, &Error{Kind: Other, Message: c.redact(err.Error())}
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	res, err := c.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, &Error{Kind: Transient, Message: c.redact(err.Error())}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, 0, &Error{Kind: Transient, Status: res.StatusCode, Message: c.redact(err.Error())}
	}
	usage := usageOf(res.Header)
	if res.StatusCode == http.StatusOK {
		return body, usage, nil
	}
	var fb struct {
		Error struct {
			Message string `json:"message"`
			Code    int    `json:"code"`
			Subcode int    `json:"error_subcode"`
			TraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &fb) != nil || fb.Error.Code == 0 {
		kind := Other
		if res.StatusCode >= 500 {
			kind = Transient
		}
		return nil, 0, &Error{Kind: kind, Status: res.StatusCode, Message: fmt.Sprintf("HTTP %d", res.StatusCode)}
	}
	e := &Error{Kind: kindOf(fb.Error.Code, fb.Error.Subcode), Status: res.StatusCode, Code: fb.Error.Code, Subcode: fb.Error.Subcode,
		Message: c.redact(fb.Error.Message), TraceID: fb.Error.TraceID}
	if e.Kind == Other && res.StatusCode >= 500 {
		e.Kind = Transient
	}
	if e.Kind == RateLimited {
		e.Wait = regainWait(res.Header)
	}
	return nil, 0, e
}

// usageOf reads X-App-Usage and X-Business-Use-Case-Usage: the highest
// percentage any of them reports.
func usageOf(h http.Header) int {
	top := 0
	var app map[string]int
	if json.Unmarshal([]byte(h.Get("X-App-Usage")), &app) == nil {
		for _, v := range app {
			top = max(top, v)
		}
	}
	for _, v := range businessUsage(h) {
		top = max(top, v.CallCount, v.TotalTime, v.TotalCPUTime)
	}
	return top
}

type businessUse struct {
	CallCount     int `json:"call_count"`
	TotalTime     int `json:"total_time"`
	TotalCPUTime  int `json:"total_cputime"`
	RegainMinutes int `json:"estimated_time_to_regain_access"`
}

func businessUsage(h http.Header) []businessUse {
	var byID map[string][]businessUse
	if json.Unmarshal([]byte(h.Get("X-Business-Use-Case-Usage")), &byID) != nil {
		return nil
	}
	var out []businessUse
	for _, v := range byID {
		out = append(out, v...)
	}
	return out
}

// regainWait is Facebook's own estimate of when access returns, if given.
func regainWait(h http.Header) time.Duration {
	wait := 0
	for _, v := range businessUsage(h) {
		wait = max(wait, v.RegainMinutes)
	}
	return time.Duration(wait) * time.Minute
}

// redact removes the token from text that may be logged.
func (c *Client) redact(s string) string {
	if c.cfg.Token == "" {
		return s
	}
	s = strings.ReplaceAll(s, c.cfg.Token, "[redacted]")
	return strings.ReplaceAll(s, url.QueryEscape(c.cfg.Token), "[redacted]")
}
