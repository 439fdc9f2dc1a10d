package dialtone

import "testing"

func TestIsE164(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"+12025550142", true},
		{"+442079460018", true},
		{"+881631234567", true},
		{"+123456789012345", true},
		{"+1234567890123456", false}, // 16 digits
		{"12025550142", false},       // no '+'
		{"+", false},
		{"+1", false},
		{"+0442079460018", false},
		{"+1 202 555 0142", false},
		{"+1-202-555-0142", false},
		{"tel:+12025550142", false},
		{"+12025550142;ext=1", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsE164(tt.s); got != tt.want {
			t.Errorf("IsE164(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
