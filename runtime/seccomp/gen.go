package seccomp

//go:generate go run ./internal/mksyscalls -o zsyscalls.go

// sysEntry is one row of a generated syscall table.
type sysEntry struct {
	name string
	nr   uint32
}
