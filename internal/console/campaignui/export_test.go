package campaignui

// Bridges for the external tests (package campaignui_test, which may use
// testkit: testkit wires this package through pb_hooks).
var (
	ReadProgressForTest = readProgress
	ParsePartsForTest   = parseParts
)
