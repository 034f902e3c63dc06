package adapters

import "testing"

func TestPrompt(t *testing.T) {
	tests := []struct {
		msg  Message
		want string
	}{
		{Message{Text: "look"}, "look"},
		{Message{Text: "look", Attachments: []Attachment{{Path: "/a.png"}, {Path: "/b.txt"}}}, "look\n\nAttachments:\n- /a.png\n- /b.txt\n"},
	}
	for _, tt := range tests {
		if got := tt.msg.Prompt(); got != tt.want {
			t.Errorf("Prompt() = %q, want %q", got, tt.want)
		}
	}
}
