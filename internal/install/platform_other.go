//go:build !darwin

package install

func darwinProbe() (translated, avx2Known, avx2 bool) { return false, false, false }
