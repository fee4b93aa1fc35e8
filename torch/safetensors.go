package torch

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	st "github.com/nlpodyssey/safetensors"
)

// The safetensors format (huggingface/safetensors): u64 little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// data. Parsing and validation are done by github.com/nlpodyssey/safetensors (header size
// capped, offsets contiguous and in bounds, no overlap, shape product × dtype size equal to the
// byte length, total length equal to the file size); this file adds the torch conversion, file
// names in errors, and atomic writes.

// MaxSafetensorsFile bounds the size of a safetensors file Load reads into memory (64 GiB).
const MaxSafetensorsFile = 64 << 30

var stToTorch = map[st.DType]DType{
	st.BOOL: Bool, st.U8: Uint8, st.I8: Int8, st.I16: Int16, st.I32: Int32, st.I64: Int64,
	st.F16: Float16, st.BF16: BFloat16, st.F32: Float32, st.F64: Float64,
}

func torchToST(d DType) (st.DType, error) {
	for k, v := range stToTorch {
		if v == d {
			return k, nil
		}
	}
	return 0, fmt.Errorf("dtype %s has no safetensors code", d)
}

// SafetensorsHeader describes one tensor of a file without reading its data into a tensor.
type SafetensorsHeader struct {
	Name  string
	DType DType
	Shape []int64
}

// stFile is a validated safetensors file held in memory.
type stFile struct {
	names []string // sorted
	infos map[string]*st.TensorInfo
	data  []byte // the byte buffer after the header
	meta  map[string]string
}

func (f *stFile) bytes(name string) []byte {
	o := f.infos[name].DataOffsets
	return f.data[o[0]:o[1]]
}

func readSafetensors(path string) (*stFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a safetensors file", path)
	}
	if fi.Size() > MaxSafetensorsFile {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit", path, fi.Size(), int64(MaxSafetensorsFile))
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n, md, err := st.ReadMetadata(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid safetensors file: %w", path, err)
	}
	f := &stFile{infos: md.Tensors(), data: buf[8+n:], meta: md.Metadata()}
	for name, info := range f.infos {
		// ReadMetadata checked that offsets are contiguous and end at the file's end;
		// re-check the bounds here so slicing can never panic.
		if info.DataOffsets[0] > info.DataOffsets[1] || info.DataOffsets[1] > uint64(len(f.data)) {
			return nil, fmt.Errorf("%s: tensor %q: data offsets %v out of range", path, name, info.DataOffsets)
		}
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	return f, nil
}

func shapeOf(u []uint64) ([]int64, error) {
	if len(u) > 16 {
		return nil, fmt.Errorf("%d dims (max 16)", len(u))
	}
	s := make([]int64, len(u))
	for i, v := range u {
		if v > 1<<62 {
			return nil, fmt.Errorf("dimension %d too large", v)
		}
		s[i] = int64(v)
	}
	return s, nil
}

// LoadSafetensors reads every tensor of a safetensors file onto device d, with the file's
// "__metadata__" map. Errors name the file and, where one is at fault, the tensor: a missing
// file, a truncated file, a header larger than the file, offsets out of range or overlapping,
// an unknown or unsupported dtype (U16/U32/U64), a shape that does not match the byte length.
func LoadSafetensors(path string, d Device) (map[string]*Tensor, map[string]string, error) {
	s, err := readSafetensors(path)
	if err != nil {
		return nil, nil, fmt.Errorf("torch: %w", err)
	}
	out := map[string]*Tensor{}
	fail := func(err error) (map[string]*Tensor, map[string]string, error) {
		for _, t := range out {
			t.Free()
		}
		return nil, nil, err
	}
	for _, name := range s.names {
		info := s.infos[name]
		dt, ok := stToTorch[info.DType]
		if !ok {
			return fail(fmt.Errorf("torch: %s: tensor %q: unsupported dtype %s", path, name, info.DType))
		}
		shape, err := shapeOf(info.Shape)
		if err != nil {
			return fail(fmt.Errorf("torch: %s: tensor %q: %w", path, name, err))
		}
		t, err := FromBytes(s.bytes(name), dt, shape, d)
		if err != nil {
			return fail(fmt.Errorf("torch: %s: tensor %q: %w", path, name, err))
		}
		out[name] = t
	}
	return out, s.meta, nil
}

// ReadSafetensorsHeader lists the tensors of a file (name, dtype, shape), sorted by name, with
// its metadata, after the same validation as LoadSafetensors.
func ReadSafetensorsHeader(path string) ([]SafetensorsHeader, map[string]string, error) {
	s, err := readSafetensors(path)
	if err != nil {
		return nil, nil, fmt.Errorf("torch: %w", err)
	}
	var hs []SafetensorsHeader
	for _, name := range s.names {
		info := s.infos[name]
		dt, ok := stToTorch[info.DType]
		if !ok {
			return nil, nil, fmt.Errorf("torch: %s: tensor %q: unsupported dtype %s", path, name, info.DType)
		}
		shape, err := shapeOf(info.Shape)
		if err != nil {
			return nil, nil, fmt.Errorf("torch: %s: tensor %q: %w", path, name, err)
		}
		hs = append(hs, SafetensorsHeader{Name: name, DType: dt, Shape: shape})
	}
	return hs, s.meta, nil
}

type stView struct {
	dt    st.DType
	shape []uint64
	data  []byte
}

func (v stView) DType() st.DType { return v.dt }
func (v stView) Shape() []uint64 { return v.shape }
func (v stView) Data() []byte    { return v.data }
func (v stView) DataLen() uint64 { return uint64(len(v.data)) }

// SaveSafetensors writes tensors (copied to the CPU, contiguous) and metadata to path in the
// safetensors format, atomically: a temporary file in the same directory is written, synced
// and renamed over path, so a crash never leaves a partial file.
func SaveSafetensors(path string, tensors map[string]*Tensor, metadata map[string]string) error {
	views := make(map[string]stView, len(tensors))
	for name, t := range tensors {
		info, err := t.Info()
		if err != nil {
			return fmt.Errorf("torch: save %s: tensor %q: %w", path, name, err)
		}
		dt, err := torchToST(info.DType)
		if err != nil {
			return fmt.Errorf("torch: save %s: tensor %q: %w", path, name, err)
		}
		b, err := t.Bytes()
		if err != nil {
			return fmt.Errorf("torch: save %s: tensor %q: %w", path, name, err)
		}
		shape := make([]uint64, len(info.Shape))
		for i, s := range info.Shape {
			shape[i] = uint64(s)
		}
		views[name] = stView{dt: dt, shape: shape, data: b}
	}
	return WriteFileAtomic(path, func(f *os.File) error {
		return st.SerializeToWriter(views, metadata, f)
	})
}

// WriteFileAtomic creates path by writing a temporary file in the same directory with write,
// syncing it and renaming it over path. On any error the temporary file is removed and path is
// left as it was.
func WriteFileAtomic(path string, write func(f *os.File) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
