package vocab

// Journey collections: a series (trigger and audience), its steps (delay
// and content), and one row per supporter and step, which makes each step
// go to each supporter once.
const (
	Journeys     = "journeys"
	JourneySteps = "journey_steps"
	JourneySends = "journey_sends"
)

// What starts a journey for a supporter.
const (
	TriggerConfirmed  = "confirmed"   // they confirm their subscription (double opt-in)
	TriggerTopicAdded = "topic_added" // they gain one of the journey's topics while subscribed
)

// JourneyTriggers lists every trigger.
var JourneyTriggers = []string{TriggerConfirmed, TriggerTopicAdded}

// A journey send's status: a delivery's, plus sending while a worker holds
// it (its due_at is then when that claim runs out).
const (
	SendQueued  = "queued"
	SendSending = "sending"
)

// JourneySendStatuses lists every status of a journey send.
var JourneySendStatuses = []string{SendQueued, SendSending, DeliverySent, DeliveryFailed, DeliveryBounced, DeliverySkipped}
