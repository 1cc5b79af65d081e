// Package vocab names the collections, fields and status values that form the
// REST contract (see the design). Code refers to these constants instead of
// scattering string literals, so a rename is a compile error, not a silent bug.
package vocab

// Collections.
const (
	Supporters   = "supporters"
	Topics       = "topics"
	Consents     = "consents"
	Outbox       = "outbox"
	Suppressions = "suppressions"
	Staff        = "staff"
	Charity      = "charity"
	Audit        = "audit"
)

// Supporter statuses.
const (
	StatusPending      = "pending"
	StatusSubscribed   = "subscribed"
	StatusUnsubscribed = "unsubscribed"
	StatusBounced      = "bounced"
	StatusComplained   = "complained"
	StatusErased       = "erased"
)

// SupporterStatuses lists every supporter status in the order the dashboard shows them.
var SupporterStatuses = []string{StatusPending, StatusSubscribed, StatusUnsubscribed, StatusBounced, StatusComplained, StatusErased}

// Consent actions: a grant, a withdrawal, or a change of details. Rows are
// never edited; each change is a new row.
const (
	ActionGrant    = "grant"
	ActionWithdraw = "withdraw"
	ActionDetails  = "details"
)

// Lawful bases (UK GDPR consent, or the charity soft opt-in of PECR reg 22(3A)).
const (
	BasisConsent   = "consent"
	BasisSoftOptIn = "soft_opt_in"
)

// How a consent row was captured.
const (
	MethodWebForm      = "web_form"
	MethodEmbeddedForm = "embedded_form"
	MethodAPI          = "api"
	MethodImport       = "import"
	MethodStaff        = "staff"
	MethodPreferences  = "preferences"
	MethodLink         = "unsubscribe_link"
	MethodOneClick     = "one_click"
)

// ConsentMethods lists every capture method.
var ConsentMethods = []string{MethodWebForm, MethodEmbeddedForm, MethodAPI, MethodImport, MethodStaff, MethodPreferences, MethodLink, MethodOneClick}

// Outbox statuses. A sending message is one a worker has claimed and is
// handing to the relay; its next_attempt_at is when the claim runs out and
// another attempt may take it over (the worker died mid-send).
const (
	OutboxQueued    = "queued"
	OutboxSending   = "sending"
	OutboxSent      = "sent"
	OutboxFailed    = "failed"
	OutboxCancelled = "cancelled"
)

// Outbox kinds: what a transactional message is for.
const (
	KindConfirm           = "confirm"
	KindAlreadySubscribed = "already_subscribed"
	KindWelcome           = "welcome"
	KindAlert             = "staff_alert"
	KindTest              = "test"
	KindThankYou          = "thank_you"     // a donation's thanks, inviting a Gift Aid declaration
	KindGiftAidLink       = "gift_aid_link" // a Gift Aid page link the donor asked for
	KindStaffCode         = "staff_code"    // a staff member's one-time sign-in code
	KindStaffInvite       = "staff_invite"  // an invitation to the staff console
)

// OutboxKinds lists every outbox kind.
var OutboxKinds = []string{KindConfirm, KindAlreadySubscribed, KindWelcome, KindAlert, KindTest, KindThankYou, KindGiftAidLink, KindStaffCode, KindStaffInvite}

// Suppression reasons.
const (
	SuppressErased     = "erased"
	SuppressComplained = "complained"
	SuppressHardBounce = "hard_bounce"
	SuppressManual     = "manual"
)

// Staff roles.
const (
	RoleComms = "comms"
	RoleAdmin = "admin"
)

// Campaign collections.
const (
	Campaigns  = "campaigns"
	Deliveries = "deliveries"
)

// Campaign statuses.
const (
	CampaignDraft     = "draft"
	CampaignScheduled = "scheduled"
	CampaignPreparing = "preparing" // its audience is being written, in chunks, before sending
	CampaignSending   = "sending"
	CampaignPaused    = "paused"
	CampaignSent      = "sent"
	CampaignCancelled = "cancelled"
	CampaignFailed    = "failed"
)

// CampaignStatuses lists every campaign status.
var CampaignStatuses = []string{CampaignDraft, CampaignScheduled, CampaignPreparing, CampaignSending, CampaignPaused, CampaignSent, CampaignCancelled, CampaignFailed}

// Delivery statuses.
const (
	DeliveryQueued  = "queued"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliveryBounced = "bounced"
	DeliverySkipped = "skipped"
)

// DeliveryStatuses lists every delivery status.
var DeliveryStatuses = []string{DeliveryQueued, DeliverySent, DeliveryFailed, DeliveryBounced, DeliverySkipped}

// Campaign body formats.
const (
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
)

// Schedules is the collection of recurring newsletters.
const Schedules = "schedules"

// Events collections.
const (
	Events   = "events"
	SyncRuns = "sync_runs"
)

// Event sources.
const (
	SourceFacebookPost  = "facebook_post"
	SourceFacebookEvent = "facebook_event"
	SourceManual        = "manual"
)

// CRM collections: giving and Gift Aid.
const (
	Donations    = "donations"
	Pledges      = "pledges"
	Declarations = "gift_aid_declarations"
)

// Donation methods.
var DonationMethods = []string{"card", "direct_debit", "standing_order", "bank_transfer", "cash", "cheque", "paypal", "other"}

// Pledge frequencies and statuses.
const (
	PledgeWeekly  = "weekly"
	PledgeMonthly = "monthly"

	PledgeActive    = "active"
	PledgePaused    = "paused"
	PledgeEnded     = "ended"
	PledgeCancelled = "cancelled"
)

// Gift Aid declaration methods (HMRC accepts each, with an oral one needing
// a written confirmation) and what a declaration covers.
const (
	DeclaredOnline  = "online"
	DeclaredWritten = "written"
	DeclaredOral    = "oral"

	ScopeThisDonation  = "this_donation"
	ScopePastAndFuture = "past_and_future"
)

var (
	DeclarationMethods = []string{DeclaredOnline, DeclaredWritten, DeclaredOral}
	DeclarationScopes  = []string{ScopeThisDonation, ScopePastAndFuture}
)

// Admin views: one supporter's history, and giving totals per supporter.
const (
	Timeline = "supporter_timeline"
	Giving   = "supporter_giving"
)

// Schedule kinds: a newsletter from its own content, or a "what's on"
// digest that appends the upcoming events (and skips a run with none).
const (
	ScheduleNewsletter = "newsletter"
	ScheduleWhatsOn    = "whats_on"
)
