// Empty: lets spin.go declare Nanotime without a body (go:linkname).
