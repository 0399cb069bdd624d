package eval

import (
	"reflect"
	"strings"
	"testing"
)

func TestSettingsChanges(t *testing.T) {
	base := DefaultSettings()
	k := 40
	tests := []struct {
		name string
		edit func(*Settings)
		want []string
	}{
		{"same", func(*Settings) {}, nil},
		{"samples", func(s *Settings) { s.Samples = 3 }, []string{"samples 1 → 3"}},
		{"two", func(s *Settings) { s.MaxTokens, s.Temperature = 64, 0.7 }, []string{"temperature 0 → 0.7", "max_tokens 256 → 64"}},
		{"set", func(s *Settings) { s.TopK = &k }, []string{"top_k unset → 40"}},
		{"stop", func(s *Settings) { s.Stop = []string{"\n"} }, []string{`stop unset → ["\n"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.edit(&s)
			if got := base.Changes(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Changes = %q, want %q", got, tt.want)
			}
		})
	}
}

// Every field of Settings is named in settingsOrder: Changes would miss one
// otherwise (settingsFields panics).
func TestSettingsOrderComplete(t *testing.T) {
	typ := reflect.TypeFor[Settings]()
	if typ.NumField() != len(settingsOrder) {
		t.Fatalf("Settings has %d fields, settingsOrder %d", typ.NumField(), len(settingsOrder))
	}
	for i := range typ.NumField() {
		if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != settingsOrder[i] {
			t.Errorf("field %d is %s, settingsOrder says %s", i, name, settingsOrder[i])
		}
	}
}
