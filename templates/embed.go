// Package templates holds every page and email the app renders, embedded into
// the binary. A charity brands them by copying a file into its override
// directory (see the README) and editing the copy.
package templates

import "embed"

// FS is the built-in template tree: pages/, emails/, campaigns/, static/ and
// staff/ (the staff console).
//
//go:embed pages emails static campaigns staff
var FS embed.FS
