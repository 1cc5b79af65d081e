package vocab

// Segments is the collection of saved audiences (campaigns.Segment).
const Segments = "segments"
