package cli

// ExitError carries a process exit code for a result that is not a failure of the command
// itself (a Deny or NoOpinion verdict, for scripts).
type ExitError struct {
	Code    int
	Message string
}

func (e *ExitError) Error() string { return e.Message }
