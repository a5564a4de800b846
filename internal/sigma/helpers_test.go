package sigma

import "github.com/exhunt/exhunt/internal/winevent"

// The tests match rules against events made from flat fields or read from
// the regression suite's JSON, in winevent's one view of an event.
type Event = winevent.Event

var (
	NewEvent       = winevent.FromFields
	ReadEventsJSON = winevent.ReadJSON
	ParseEventJSON = winevent.ParseJSON
)
