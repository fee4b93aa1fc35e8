package torch

/*
#include <stdlib.h>
#include "hier_torch.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ErrFreed is returned when a freed tensor is used.
var ErrFreed = errors.New("torch: use of a freed tensor")

var liveTensors atomic.Int64

// LiveTensors is the number of *Tensor values created by this package and not yet freed
// (explicitly, by their Scope, or by the cleanup backstop).
func LiveTensors() int64 { return liveTensors.Load() }

// cell holds the native handle; it is shared with the cleanup backstop so that exactly one of
// Free or the cleanup releases it.
type cell struct {
	p unsafe.Pointer // C.ht_tensor; accessed atomically
}

func (c *cell) load() C.ht_tensor { return C.ht_tensor(atomic.LoadPointer(&c.p)) }

func (c *cell) release() {
	if p := atomic.SwapPointer(&c.p, nil); p != nil {
		C.ht_free(C.ht_tensor(p))
		liveTensors.Add(-1)
	}
}

// Tensor is a handle to a libtorch tensor. The zero value is not usable; tensors come from
// creation functions and operations. A Tensor may be used from several goroutines for reads
// (operations that do not modify it); Free must not race with other uses.
type Tensor struct {
	c       *cell
	cleanup runtime.Cleanup // valid once backing is backGuarded
	backing atomic.Uint32   // backScope, backPending or backGuarded
	scope   atomic.Pointer[scopeState]
}

// What keeps a tensor that is dropped without Free from leaking its native handle.
const (
	// backScope: the scope that owns it holds it (reachable) until Close frees it; a scope
	// dropped without Close hands its tensors to the backstop (see Scope).
	backScope uint32 = iota
	// backPending: it waits in the backstop's pending list for its runtime cleanup.
	backPending
	// backGuarded: its runtime cleanup is attached (t.cleanup is valid).
	backGuarded
)

// newTensor wraps a fresh native handle. The result joins the scope of the first input that
// has one, so everything computed from scoped tensors is freed with that scope.
//
// A result that joins an open scope needs no cleanup of its own: the scope holds it until
// Close. Any other result gets the cleanup backstop, attached later in batches (see backstop):
// most results are freed within a few operations, and registering a runtime cleanup for each
// of them was the largest Go-side cost of an operation: with pprof on BenchmarkTinyAdd (a
// 1-element add and its Free, 1220 ns per op beside libtorch's own 600 ns),
// runtime.AddCleanup took 135 ns per op and Cleanup.Stop 35 ns.
func newTensor(h C.ht_tensor, inputs ...*Tensor) *Tensor {
	t := &Tensor{}
	liveTensors.Add(1)
	for _, in := range inputs {
		if in == nil {
			continue
		}
		if st := in.scope.Load(); st != nil {
			if st.adopt(t, h) {
				return t
			}
			break
		}
	}
	backstop.add(t, h)
	return t
}

// backstop attaches the runtime cleanup to tensors in batches. A tensor waits in the pending
// list (which keeps it reachable, so it cannot be collected unguarded) until the list holds
// guardBatch tensors or a garbage collection runs; then every pending tensor that has not been
// freed meanwhile gets its cleanup, and the list lets go of them all. A tensor dropped without
// Free is therefore released by the cleanup of a later GC cycle than it would be with an
// immediate registration, and no later than that.
var backstop pendingGuards

const guardBatch = 256

type pendingGuards struct {
	mu    sync.Mutex
	ts    []*Tensor
	cells []cell // a slab that new tensors' cells are taken from, one allocation per cellSlab
	hook  sync.Once
}

// cellSlab is how many cells are allocated at once. A slab stays in memory while any of its
// cells is in use (8 bytes each).
const cellSlab = 128

// add gives t its cell, holding handle h, and queues t for its cleanup.
func (p *pendingGuards) add(t *Tensor, h C.ht_tensor) {
	p.hook.Do(armGCHook)
	t.backing.Store(backPending)
	p.mu.Lock()
	t.c = newCell(&p.cells, cellSlab, h)
	full := p.pushLocked(t)
	p.mu.Unlock()
	guard(full)
}

// enqueue queues t, which already has its cell, for its cleanup, unless it has one or is
// queued already.
func (p *pendingGuards) enqueue(t *Tensor) {
	if !t.backing.CompareAndSwap(backScope, backPending) {
		return
	}
	p.hook.Do(armGCHook)
	p.mu.Lock()
	full := p.pushLocked(t)
	p.mu.Unlock()
	guard(full)
}

// pushLocked appends t to the pending list (p.mu held) and, once the list holds guardBatch
// tensors, takes and returns it for the caller to guard after unlocking.
func (p *pendingGuards) pushLocked(t *Tensor) []*Tensor {
	p.ts = append(p.ts, t)
	if len(p.ts) < guardBatch {
		return nil
	}
	full := p.ts
	p.ts = make([]*Tensor, 0, guardBatch)
	return full
}

// newCell takes the next cell of *slab, allocating a slab of n cells when it is used up, and
// stores handle h in it. The slab's owner serialises calls.
func newCell(slab *[]cell, n int, h C.ht_tensor) *cell {
	if len(*slab) == 0 {
		*slab = make([]cell, n)
	}
	c := &(*slab)[0]
	*slab = (*slab)[1:]
	c.p = unsafe.Pointer(h)
	return c
}

// flush guards every pending tensor now.
func (p *pendingGuards) flush() {
	p.mu.Lock()
	batch := p.ts
	p.ts = nil
	p.mu.Unlock()
	guard(batch)
}

func guard(batch []*Tensor) {
	for i, t := range batch {
		if t.c.load() != nil {
			t.cleanup = runtime.AddCleanup(t, (*cell).release, t.c)
			t.backing.Store(backGuarded) // publishes t.cleanup to Free
		}
		batch[i] = nil
	}
}

// gcSentinel is garbage on purpose: its cleanup runs after each garbage collection, guards the
// pending tensors and arms a new sentinel for the next cycle.
type gcSentinel struct{ _ *gcSentinel } // holds a pointer so that it is not a tiny allocation, which may never be collected

func armGCHook() {
	runtime.AddCleanup(new(gcSentinel), func(struct{}) {
		backstop.flush()
		armGCHook()
	}, struct{}{})
}

func (t *Tensor) h() (C.ht_tensor, error) {
	if t == nil || t.c == nil {
		return nil, errors.New("torch: nil tensor")
	}
	p := t.c.load()
	if p == nil {
		return nil, ErrFreed
	}
	return p, nil
}

// optH returns the handle or nil for a nil *Tensor (optional arguments).
func (t *Tensor) optH() (C.ht_tensor, error) {
	if t == nil {
		return nil, nil
	}
	return t.h()
}

// Free releases the native tensor now. It is idempotent and safe on nil.
func (t *Tensor) Free() {
	if t == nil || t.c == nil {
		return
	}
	t.stopCleanup()
	t.c.release()
}

// take detaches the native handle from t for a caller that releases it (Scope.Close, in a
// batch), stopping t's cleanup; nil if t was freed already.
func (t *Tensor) take() unsafe.Pointer {
	t.stopCleanup()
	return atomic.SwapPointer(&t.c.p, nil)
}

// stopCleanup cancels t's runtime cleanup, if it has one: its handle is being released now.
func (t *Tensor) stopCleanup() {
	if t.backing.Load() == backGuarded {
		t.cleanup.Stop()
	}
}

// Freed reports whether the tensor has been released.
func (t *Tensor) Freed() bool { return t == nil || t.c == nil || t.c.load() == nil }

// Share returns a second handle to the same tensor (same storage and autograd identity),
// freed independently. It joins t's scope, if any.
func (t *Tensor) Share() (*Tensor, error) {
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var out C.ht_tensor
	err = check("share", C.ht_share(h, &out))
	runtime.KeepAlive(t)
	if err != nil {
		return nil, err
	}
	return newTensor(out, t), nil
}

// Scope frees, on Close, every tensor it owns: tensors added with Track and every result of an
// operation one of whose inputs it owns. Keep takes a tensor out of the scope so it survives
// Close. Close releases all of them in one native call. A Scope is safe for concurrent use,
// but it is normally owned by one goroutine (one training or inference step). The zero Scope
// is ready to use; NewScope returns one too.
//
// A Scope dropped without Close does not leak: once it is unreachable, the tensors it still
// owns get the runtime cleanup backstop, so each is released when it is unreachable in turn
// (a tensor still in use stays valid).
type Scope struct {
	once sync.Once
	st   *scopeState
}

// scopeState is what a scope's tensors point to (never the Scope itself, so that a Scope can
// become unreachable while its tensors are still in use, and its cleanup can tell).
type scopeState struct {
	mu     sync.Mutex
	ts     []*Tensor
	cells  []cell // a slab for the cells of the results the scope adopts
	closed bool
}

// NewScope returns an empty scope.
func NewScope() *Scope {
	s := &Scope{}
	s.state()
	return s
}

func (s *Scope) state() *scopeState {
	s.once.Do(func() {
		s.st = &scopeState{}
		runtime.AddCleanup(s, (*scopeState).abandon, s.st)
	})
	return s.st
}

// scopeCellSlab is how many cells a scope allocates at once for the results it adopts.
const scopeCellSlab = 32

// adopt makes t, a new result holding handle h, owned by the scope, and reports whether it did
// (not once the scope is closed).
func (st *scopeState) adopt(t *Tensor, h C.ht_tensor) bool {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return false
	}
	t.c = newCell(&st.cells, scopeCellSlab, h)
	t.scope.Store(st)
	st.ts = append(st.ts, t)
	st.mu.Unlock()
	return true
}

func (st *scopeState) add(t *Tensor) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		// A tensor added to a closed scope is left to its owner.
		return
	}
	t.scope.Store(st)
	st.ts = append(st.ts, t)
}

// shut closes the scope to new tensors and returns the ones it held.
func (st *scopeState) shut() []*Tensor {
	st.mu.Lock()
	defer st.mu.Unlock()
	ts := st.ts
	st.ts, st.cells, st.closed = nil, nil, true
	return ts
}

// abandon runs when the Scope is unreachable without having been closed: the tensors it still
// owns get the cleanup backstop, and later results of them no longer join it.
func (st *scopeState) abandon() {
	for _, t := range st.shut() {
		if t.scope.CompareAndSwap(st, nil) {
			backstop.enqueue(t)
		}
	}
}

// Track adds tensors to the scope and returns the first, for chaining.
func (s *Scope) Track(ts ...*Tensor) *Tensor {
	st := s.state()
	for _, t := range ts {
		if t != nil {
			st.add(t)
		}
	}
	runtime.KeepAlive(s)
	if len(ts) == 0 {
		return nil
	}
	return ts[0]
}

// Keep removes t from the scope so Close does not free it, and returns t. Results computed
// from t afterwards are no longer owned by the scope.
func (s *Scope) Keep(t *Tensor) *Tensor {
	if t != nil && t.scope.CompareAndSwap(s.state(), nil) {
		backstop.enqueue(t) // no longer held by the scope
	}
	runtime.KeepAlive(s)
	return t
}

// Close frees every tensor still owned by the scope, in one native call. It is idempotent.
func (s *Scope) Close() {
	st := s.state()
	if ts := st.shut(); len(ts) > 0 {
		hs := make([]unsafe.Pointer, 0, len(ts))
		for _, t := range ts {
			if !t.scope.CompareAndSwap(st, nil) {
				continue // kept, or moved to another scope
			}
			if p := t.take(); p != nil {
				hs = append(hs, p)
			}
		}
		if len(hs) > 0 {
			C.ht_free_many((*C.ht_tensor)(unsafe.Pointer(&hs[0])), C.size_t(len(hs)))
			liveTensors.Add(-int64(len(hs)))
		}
	}
	runtime.KeepAlive(s)
}

// Len is the number of tensors the scope currently holds (kept ones included until Close).
func (s *Scope) Len() int {
	st := s.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	runtime.KeepAlive(s)
	return len(st.ts)
}

// Info is a tensor's metadata, read in one native call.
type Info struct {
	DType        DType
	Device       Device
	Shape        []int64
	RequiresGrad bool
	IsLeaf       bool
}

// Info returns the tensor's dtype, device, shape and autograd flags.
func (t *Tensor) Info() (Info, error) {
	h, err := t.h()
	if err != nil {
		return Info{}, err
	}
	var dt, dev, nd, rg, leaf C.int
	var shape [C.HT_MAX_DIMS]C.int64_t
	err = check("info", C.ht_info(h, &dt, &dev, &nd, &shape[0], &rg, &leaf))
	runtime.KeepAlive(t)
	if err != nil {
		return Info{}, err
	}
	s := make([]int64, int(nd))
	for i := range s {
		s[i] = int64(shape[i])
	}
	return Info{DType: DType(dt), Device: deviceFromCode(dev), Shape: s, RequiresGrad: rg != 0, IsLeaf: leaf != 0}, nil
}

// Shape is the tensor's sizes; nil if the tensor is freed.
func (t *Tensor) Shape() []int64 {
	i, err := t.Info()
	if err != nil {
		return nil
	}
	return i.Shape
}

// Dim is the number of dimensions (-1 if freed).
func (t *Tensor) Dim() int {
	s := t.Shape()
	if s == nil && t.Freed() {
		return -1
	}
	return len(s)
}

// Size returns the size of dimension d; negative d counts from the end. It panics on an
// out-of-range dimension (a programmer error).
func (t *Tensor) Size(d int) int64 {
	s := t.Shape()
	if d < 0 {
		d += len(s)
	}
	if d < 0 || d >= len(s) {
		panic(fmt.Sprintf("torch: dimension %d out of range for shape %v", d, s))
	}
	return s[d]
}

// Numel is the number of elements.
func (t *Tensor) Numel() int64 {
	n := int64(1)
	for _, s := range t.Shape() {
		n *= s
	}
	return n
}

// DType is the element type (0 if freed).
func (t *Tensor) DType() DType {
	i, _ := t.Info()
	return i.DType
}

// Device is where the tensor lives.
func (t *Tensor) Device() Device {
	i, _ := t.Info()
	return i.Device
}

// RequiresGrad reports whether autograd records operations on the tensor.
func (t *Tensor) RequiresGrad() bool {
	i, _ := t.Info()
	return i.RequiresGrad
}

func (t *Tensor) String() string {
	i, err := t.Info()
	if err != nil {
		return "Tensor(" + err.Error() + ")"
	}
	return fmt.Sprintf("Tensor(shape=%v, dtype=%s, device=%s)", i.Shape, i.DType, i.Device)
}

// Element is a Go type with a torch dtype.
type Element interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8 | ~bool
}

func dtypeOf[T Element]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int64:
		return Int64
	case int32:
		return Int32
	case uint8:
		return Uint8
	case bool:
		return Bool
	}
	panic("unreachable")
}

func numelOf(shape []int64) (int64, error) {
	n := int64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("torch: negative dimension in shape %v", shape)
		}
		n *= s
	}
	return n, nil
}

// FromSlice copies data into a new CPU tensor of the given shape (dtype from T: float32,
// float64, int64, int32, uint8 or bool). With no shape the result is 1-D [len(data)].
// Errors: len(data) does not match the shape.
func FromSlice[T Element](data []T, shape ...int64) (*Tensor, error) {
	if len(shape) == 0 {
		shape = []int64{int64(len(data))}
	}
	n, err := numelOf(shape)
	if err != nil {
		return nil, err
	}
	if n != int64(len(data)) {
		return nil, fmt.Errorf("torch: %d values do not fill shape %v (%d elements)", len(data), shape, n)
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	var z T
	return fromRaw(p, uintptr(len(data))*unsafe.Sizeof(z), dtypeOf[T](), shape, CPU)
}

// MustFromSlice is FromSlice that panics on error.
func MustFromSlice[T Element](data []T, shape ...int64) *Tensor {
	return Must(FromSlice(data, shape...))
}

// Scalar makes a 0-dim tensor holding v.
func Scalar[T Element](v T) (*Tensor, error) {
	var z T
	return fromRaw(unsafe.Pointer(&v), unsafe.Sizeof(z), dtypeOf[T](), nil, CPU)
}

// FromBytes copies raw little-endian element bytes into a new tensor on device d.
// Errors: len(data) != product(shape) * dtype size.
func FromBytes(data []byte, dt DType, shape []int64, d Device) (*Tensor, error) {
	if dt.Size() == 0 {
		return nil, fmt.Errorf("torch: unknown dtype %s", dt)
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	return fromRaw(p, uintptr(len(data)), dt, shape, d)
}

func fromRaw(p unsafe.Pointer, nbytes uintptr, dt DType, shape []int64, d Device) (*Tensor, error) {
	var out C.ht_tensor
	err := check("from_data", C.ht_from_data(p, C.size_t(nbytes), C.int(dt), cInt64s(shape), C.int(len(shape)), d.code(), &out))
	if err != nil {
		return nil, err
	}
	return newTensor(out), nil
}

// Bytes copies the elements (contiguous, row-major, little-endian, moved to the CPU) into a new
// byte slice.
func (t *Tensor) Bytes() ([]byte, error) {
	i, err := t.Info()
	if err != nil {
		return nil, err
	}
	n, _ := numelOf(i.Shape)
	buf := make([]byte, n*int64(i.DType.Size()))
	if err := t.copyOut(buf, len(buf)); err != nil {
		return nil, err
	}
	return buf, nil
}

func (t *Tensor) copyOut(dst any, nbytes int) error {
	h, err := t.h()
	if err != nil {
		return err
	}
	var p unsafe.Pointer
	switch v := dst.(type) {
	case []byte:
		if len(v) > 0 {
			p = unsafe.Pointer(&v[0])
		}
	default:
		panic("copyOut: unsupported destination")
	}
	err = check("copy_to_host", C.ht_copy_to_host(h, p, C.size_t(nbytes)))
	runtime.KeepAlive(t)
	return err
}

// ToSlice copies the tensor's elements into a new Go slice. The tensor's dtype must be T's
// dtype (convert with To first); it may live on any device.
func ToSlice[T Element](t *Tensor) ([]T, error) {
	i, err := t.Info()
	if err != nil {
		return nil, err
	}
	want := dtypeOf[T]()
	if i.DType != want {
		return nil, fmt.Errorf("torch: tensor has dtype %s, want %s", i.DType, want)
	}
	n, _ := numelOf(i.Shape)
	out := make([]T, n)
	if n == 0 {
		return out, nil
	}
	h, err := t.h()
	if err != nil {
		return nil, err
	}
	var z T
	err = check("copy_to_host", C.ht_copy_to_host(h, unsafe.Pointer(&out[0]), C.size_t(uintptr(n)*unsafe.Sizeof(z))))
	runtime.KeepAlive(t)
	return out, err
}

// Float32s copies a float32 tensor's elements into a Go slice (row-major).
func (t *Tensor) Float32s() ([]float32, error) { return ToSlice[float32](t) }

// Float64s copies a float64 tensor's elements into a Go slice (row-major).
func (t *Tensor) Float64s() ([]float64, error) { return ToSlice[float64](t) }

// Int64s copies an int64 tensor's elements into a Go slice (row-major).
func (t *Tensor) Int64s() ([]int64, error) { return ToSlice[int64](t) }

// Item returns the single element of a one-element tensor as float64.
func (t *Tensor) Item() (float64, error) {
	h, err := t.h()
	if err != nil {
		return 0, err
	}
	var v C.double
	err = check("item", C.ht_item(h, &v))
	runtime.KeepAlive(t)
	return float64(v), err
}

// MustItem is Item that panics on error.
func (t *Tensor) MustItem() float64 { return Must(t.Item()) }

// Must returns v, or panics with err. Use it where an error is a programmer error (shapes
// already validated); Recover converts the panic back into an error at an API boundary.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(mustPanic{err})
	}
	return v
}

type mustPanic struct{ err error }

// Recover, deferred as `defer torch.Recover(&err)`, turns a panic raised by Must (or a MustX
// method) into *err. Other panics propagate.
func Recover(err *error) {
	if r := recover(); r != nil {
		if mp, ok := r.(mustPanic); ok {
			*err = mp.err
			return
		}
		panic(r)
	}
}

// FreeAll frees every tensor in ts (nil entries are skipped).
func FreeAll(ts ...*Tensor) {
	for _, t := range ts {
		t.Free()
	}
}
