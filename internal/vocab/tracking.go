package vocab

// TrackingEvents holds one row per open or click of a tracked campaign.
const TrackingEvents = "tracking_events"

// Tracking event kinds.
const (
	TrackOpen  = "open"
	TrackClick = "click"
)
