package yara

import (
	"errors"

	"github.com/exhunt/exhunt/internal/literal"
)

// automaton finds every atom occurrence in one pass. Atoms are folded when
// added, and the matcher folds ASCII case itself, so one automaton serves
// case-sensitive and nocase strings alike; the confirmation step checks
// case where it matters.
type automaton struct{ m *literal.Matcher }

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 32
	}
	return b
}

// maxDFACells bounds the automaton's table (4 bytes a cell).
const maxDFACells = 64 << 20

var errAutomatonTooLarge = errors.New("too many atoms: automaton too large")

// buildAutomaton builds the automaton for atoms; outputs are atom indices.
func buildAutomaton(atoms [][]byte) (*automaton, error) {
	m, err := literal.Compile(atoms, maxDFACells)
	if errors.Is(err, literal.ErrTooLarge) {
		return nil, errAutomatonTooLarge
	}
	if err != nil {
		return nil, err
	}
	return &automaton{m}, nil
}

func (a *automaton) states() int { return a.m.States() }

// scan calls hit(end, atom) for every atom occurrence in data, end being
// the offset just past it, in increasing end order.
func (a *automaton) scan(data []byte, hit func(end int, atom int32)) { a.m.Each(data, hit) }
