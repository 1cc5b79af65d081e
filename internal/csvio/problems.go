package csvio

// FileError is a file refused as a whole, before any of it was imported:
// not UTF-8, no usable header row, a required column missing. It is the
// admin's to fix (a 400, not a fault).
type FileError struct{ Err error }

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Problem is a row that wasn't imported (or only in part), and why.
type Problem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// MaxProblems caps the problems a report lists; its counts stay exact.
const MaxProblems = 1000

// Problems lists the first MaxProblems problems of an import.
type Problems []Problem

// Add lists a problem while there is room.
func (p *Problems) Add(line int, reason string) {
	if len(*p) < MaxProblems {
		*p = append(*p, Problem{line, reason})
	}
}
