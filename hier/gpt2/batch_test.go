package gpt2

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hier-ai/hier/torch"
)

func TestPadRight(t *testing.T) {
	s := torch.NewScope()
	defer s.Close()
	in, err := PadRight(s, [][]int64{{5, 6, 7, 8}, {9}, {1, 2}}, 50256, 3, torch.CPU)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 1, 2}, in.Lengths)
	assert.True(t, in.Padded)
	assert.Equal(t, []int64{3, 3}, in.InputIDs.Shape())
	ids, err := in.InputIDs.Int64s()
	require.NoError(t, err)
	assert.Equal(t, []int64{5, 6, 7, 9, 50256, 50256, 1, 2, 50256}, ids, "truncated to 3, right-padded")
	mask, err := in.AttentionMask.Int64s()
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 1, 1, 1, 0, 0, 1, 1, 0}, mask)

	in, err = PadRight(s, [][]int64{{1, 2}, {3, 4}}, 0, 0, torch.CPU)
	require.NoError(t, err)
	assert.False(t, in.Padded, "rows of equal length need no padding")

	_, err = PadRight(s, nil, 0, 0, torch.CPU)
	assert.ErrorContains(t, err, "empty batch")
	_, err = PadRight(s, [][]int64{{1}, {}}, 0, 0, torch.CPU)
	assert.ErrorContains(t, err, "row 1 has no tokens")
}
