//go:build darwin

package install

import "syscall"

// darwinProbe asks the kernel whether this process runs translated by
// Rosetta 2 and whether the CPU has AVX2.
func darwinProbe() (translated, avx2Known, avx2 bool) {
	if v, err := syscall.SysctlUint32("sysctl.proc_translated"); err == nil && v == 1 {
		translated = true
	}
	if v, err := syscall.SysctlUint32("hw.optional.avx2_0"); err == nil {
		avx2Known, avx2 = true, v == 1
	}
	return translated, avx2Known, avx2
}
