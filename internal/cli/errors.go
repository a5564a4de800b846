package cli

import "errors"

// Exit codes. They are the same for every output format, so scripts can
// branch on them whatever they asked to read.
const (
	// ExitClean: the run finished and no server shows an indicator.
	ExitClean = 0
	// ExitError: the run failed (unreadable rules, output not writable...).
	ExitError = 1
	// ExitUsage: the command line was wrong.
	ExitUsage = 2
	// ExitFindings: at least one server is probed or worse.
	ExitFindings = 3
)

// exitError carries an exit code with a message for stderr.
type exitError struct {
	code int
	msg  string
	hint string
}

func (e *exitError) Error() string { return e.msg }

// ExitCode implements the interface main uses.
func (e *exitError) ExitCode() int { return e.code }

func usageError(msg, hint string) error { return &exitError{code: ExitUsage, msg: msg, hint: hint} }

// errFindings ends a run that found indicators; it prints nothing.
var errFindings = &exitError{code: ExitFindings}

func exitCode(err error) int {
	if err == nil {
		return ExitClean
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitError
}
