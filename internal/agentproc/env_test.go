package agentproc

import (
	"slices"
	"testing"
)

func TestOverride(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/h", "A=old"}
	for _, tc := range []struct {
		name string
		vars map[string]string
		want []string
		bad  bool
	}{
		{"nothing", nil, base, false},
		{"replaces and appends in name order", map[string]string{"Z": "1", "A": "new"},
			[]string{"PATH=/bin", "HOME=/h", "A=new", "Z=1"}, false},
		{"empty value kept", map[string]string{"HOME": ""}, []string{"PATH=/bin", "A=old", "HOME="}, false},
		{"empty name", map[string]string{"": "x"}, nil, true},
		{"= in a name", map[string]string{"A=B": "x"}, nil, true},
		{"NUL in a value", map[string]string{"A": "x\x00y"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Override(base, tc.vars)
			if tc.bad != (err != nil) {
				t.Fatalf("err %v", err)
			}
			if !tc.bad && !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if base[2] != "A=old" {
		t.Error("the input was modified")
	}
}
