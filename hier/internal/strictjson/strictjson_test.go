package strictjson

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type stage struct {
	Epochs    int     `json:"epochs"`
	BatchSize int     `json:"batch_size"`
	LR        float64 `json:"lr"`
}

type cfg struct {
	Seed     uint64           `json:"seed"`
	Name     string           `json:"name"`
	Pretrain stage            `json:"pretrain"`
	Stages   []stage          `json:"stages"`
	Extra    map[string]stage `json:"extra"`
	Opt      *stage           `json:"opt,omitempty"`
	Skip     int              `json:"-"`
}

func TestDecodeKeepsAbsentAndReplacesPresent(t *testing.T) {
	c := cfg{Seed: 7, Name: "base", Pretrain: stage{Epochs: 3, LR: 0.1}}
	raw := []byte(`{"name": "x", "pretrain": {"epochs": 5}, "stages": [{"lr": 2}], "extra": {"any key": {"BATCH_SIZE": 4}}, "opt": {"epochs": 1}}`)
	require.NoError(t, Decode("f.json", raw, &c))
	require.Equal(t, uint64(7), c.Seed)
	require.Equal(t, "x", c.Name)
	require.Equal(t, stage{Epochs: 5, LR: 0.1}, c.Pretrain)
	require.Equal(t, []stage{{LR: 2}}, c.Stages)
	require.Equal(t, 4, c.Extra["any key"].BatchSize, "keys match case-insensitively, as in encoding/json")
	require.Equal(t, 1, c.Opt.Epochs)
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", `f.json: the file is empty`},
		{" \n\t", `f.json: the file is empty`},
		{`{"sede": 1}`, `f.json:1:2: unknown key "sede" at the top level; did you mean "seed"?`},
		{"{\n  \"pretrain\": {\"epoch\": 1}}", `f.json:2:16: unknown key "epoch" in "pretrain"; did you mean "epochs"?`},
		{`{"epochs": 1}`, `f.json:1:2: unknown key "epochs" at the top level; "epochs" is a key of "extra", "opt", "pretrain", "stages"`},
		{`{"epoch": 1}`, `did you mean "epochs" (a key of "extra", "opt", "pretrain", "stages")?`},
		{`{"qqq": 1}`, `unknown key "qqq" at the top level; known keys: extra, name, opt, pretrain, seed, stages`},
		{`{"Skip": 1}`, `unknown key "Skip"`},
		{`{"stages": [{}, {"lrr": 1}]}`, `unknown key "lrr" in "stages.1"; did you mean "lr"?`},
		{`{"seed": "one"}`, `f.json:1:15: "seed": want a non-negative integer, got a JSON string`},
		{`{"pretrain": {"epochs": 1.5}}`, `"pretrain.epochs": want an integer, got a JSON number 1.5`},
		{`{"pretrain": []}`, `"pretrain": want an object, got a JSON array`},
		{`{"seed": 1,}`, `f.json:1:12: invalid JSON: invalid character '}'`},
		{`{"seed": 1`, `f.json:1:11: invalid JSON: the file ends in the middle of a value`},
		{`{"seed": 1} {"seed": 2}`, `more than one JSON value`},
		{`[1]`, `the top level: want an object, got a JSON array`},
	} {
		var c cfg
		err := Decode("f.json", []byte(tc.raw), &c)
		require.Error(t, err, "%q", tc.raw)
		require.Contains(t, err.Error(), tc.want, "%q", tc.raw)
		require.NotContains(t, err.Error(), "Go struct", "%q: no Go names in user-facing errors", tc.raw)
		require.NotContains(t, err.Error(), "strictjson.", "%q", tc.raw)
	}
}

func TestDecodeNeedsPointer(t *testing.T) {
	require.Error(t, Decode("f.json", []byte(`{}`), cfg{}))
	require.Error(t, Decode("f.json", []byte(`{}`), (*cfg)(nil)))
}
