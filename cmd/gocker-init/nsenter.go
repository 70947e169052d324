//go:build cgo

package main

// gocker-nsenter: joins user/mnt/time namespaces before Go starts.
import _ "github.com/gocker/gocker/runtime/nsenter"
