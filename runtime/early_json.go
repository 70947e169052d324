//go:build !goexperiment.jsonv2

package runtime

import "encoding/json"

// decodeEarly reads the earlyConfig fields of raw (early_scan.go is the
// faster scan used in builds with GOEXPERIMENT=jsonv2, as the Makefile's).
func decodeEarly(raw []byte) (ec earlyConfig, ok bool) {
	return ec, json.Unmarshal(raw, &ec) == nil
}

// decodeBrief reads the briefConfig fields of raw.
func decodeBrief(raw []byte) (bc briefConfig, ok bool) {
	return bc, json.Unmarshal(raw, &bc) == nil
}
