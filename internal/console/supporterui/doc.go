// Package supporterui is the staff console's supporter and admin-data
// pages: supporter search and filters, a supporter's timeline, an admin's
// edit and erasure, CSV import (in the background, with progress and the
// per-line report), exports, and the giving pages (donations, pledges,
// Gift Aid declarations and the claim).
//
// The queries (Search, Timeline) and the import jobs (Imports) know
// nothing of HTTP and are tested on their own; the handlers put them in
// the console's layout and check the role of every page and action on the
// server. Comms staff read supporters and their timeline, never giving
// data; everything else here is for admins.
package supporterui
