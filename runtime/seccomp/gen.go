package seccomp

//go:generate go run ./internal/mksyscalls -o zsyscalls.go

// sysRow is one row of the generated syscall table: a name and its number
// in each ABI (column order: the col field of abi), noSys where the ABI
// does not have it.
type sysRow struct {
	name string
	nr   [numABIs]uint32
}

const (
	numABIs = 4
	// noSys marks a missing syscall; 0xffffffff is never a real number.
	noSys = ^uint32(0)
)

// sysHash is FNV-1a, the hash the generator used to fill sysIndex.
func sysHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
