package torch

import "testing"

func TestSmoke(t *testing.T) {
	a := MustFromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := MustFromSlice([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	c, err := a.MatMul(b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.Float32s()
	t.Log(v, c.Shape(), LibtorchVersion(), NumThreads())
	_, err = a.MatMul(a)
	t.Log(err)
	FreeAll(a, b, c)
	if LiveTensors() != 0 {
		t.Fatal(LiveTensors())
	}
}
