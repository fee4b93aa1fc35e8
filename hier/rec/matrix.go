package rec

import (
	"fmt"
	"math"

	"github.com/hier-ai/hier/torch"
)

// Matrix is a dense row-major float32 matrix [Rows, Cols] held in Go memory.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// NewMatrix allocates a zero matrix [rows, cols].
func NewMatrix(rows, cols int) *Matrix {
	return &Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
}

// Row returns row i (a slice of Data, not a copy).
func (m *Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Tensor copies the matrix into a float32 tensor [Rows, Cols] on device d.
func (m *Matrix) Tensor(d torch.Device) (*torch.Tensor, error) {
	t, err := torch.FromSlice(m.Data, int64(m.Rows), int64(m.Cols))
	if err != nil || d == torch.CPU {
		return t, err
	}
	defer t.Free()
	return t.ToDevice(d)
}

// MatrixFromTensor copies a 2-d tensor of any float dtype and device into a Matrix.
func MatrixFromTensor(t *torch.Tensor) (*Matrix, error) {
	s := t.Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("rec: want a matrix, got shape %v", s)
	}
	f, err := t.To(torch.CPU, torch.Float32)
	if err != nil {
		return nil, err
	}
	defer f.Free()
	v, err := f.Float32s()
	if err != nil {
		return nil, err
	}
	return &Matrix{Rows: int(s[0]), Cols: int(s[1]), Data: v}, nil
}

// Standardize returns a copy with every column shifted to mean 0 and scaled to standard
// deviation 1 (population std, plus 1e-6 so constant columns stay finite).
func Standardize(m *Matrix) *Matrix {
	out := NewMatrix(m.Rows, m.Cols)
	n := float64(max(m.Rows, 1))
	for j := 0; j < m.Cols; j++ {
		var mean, sq float64
		for i := 0; i < m.Rows; i++ {
			mean += float64(m.Data[i*m.Cols+j])
		}
		mean /= n
		for i := 0; i < m.Rows; i++ {
			d := float64(m.Data[i*m.Cols+j]) - mean
			sq += d * d
		}
		std := math.Sqrt(sq/n) + 1e-6
		for i := 0; i < m.Rows; i++ {
			out.Data[i*m.Cols+j] = float32((float64(m.Data[i*m.Cols+j]) - mean) / std)
		}
	}
	return out
}

// fromSlice is torch.FromSlice on device dev.
func fromSlice[T torch.Element](data []T, dev torch.Device, shape ...int64) (*torch.Tensor, error) {
	t, err := torch.FromSlice(data, shape...)
	if err != nil || dev == torch.CPU {
		return t, err
	}
	defer t.Free()
	return t.ToDevice(dev)
}
