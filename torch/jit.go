package torch

/*
#include <stdlib.h>
#include "hier_torch.h"
*/
import "C"

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Module is a TorchScript module loaded with torch::jit::load. Forward is safe from several
// goroutines in eval mode; Train/To/parameter updates must not race with Forward.
type Module struct {
	mu   sync.RWMutex
	m    C.ht_module
	path string
}

// zipKind inspects a torch zip archive and tells TorchScript from a torch.save pickle.
// It returns "torchscript", "pickle", or an error describing what the file is.
func zipKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	if n < 4 || !bytes.Equal(head, []byte("PK\x03\x04")) {
		switch {
		case n == 0:
			return "", fmt.Errorf("%s: empty file", path)
		case head[0] == 0x80:
			return "", fmt.Errorf("%s: a legacy (non-zip) Python pickle, e.g. an old torch.save file; TorchScript files are zip archives written by torch.jit.save", path)
		default:
			return "", fmt.Errorf("%s: not a zip archive, so neither TorchScript nor a torch.save file", path)
		}
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return "", fmt.Errorf("%s: corrupt zip archive: %w", path, err)
	}
	defer zr.Close()
	hasData, hasCode, hasConstants := false, false, false
	for _, zf := range zr.File {
		parts := strings.SplitN(zf.Name, "/", 3)
		if len(parts) < 2 {
			continue
		}
		switch {
		case parts[1] == "data.pkl":
			hasData = true
		case parts[1] == "constants.pkl":
			hasConstants = true
		case parts[1] == "code" && len(parts) == 3:
			hasCode = true
		}
	}
	switch {
	case hasData && hasCode && hasConstants:
		return "torchscript", nil
	case hasData:
		return "pickle", nil
	}
	return "", fmt.Errorf("%s: a zip archive without data.pkl: not a PyTorch file", path)
}

// LoadModule loads a TorchScript file (torch.jit.save / torch.jit.trace output) onto device d.
// Errors: the file is missing, is a torch.save pickle (a state dict, not a module: the error
// says so), is not a zip, or libtorch rejects it.
func LoadModule(path string, d Device) (*Module, error) {
	kind, err := zipKind(path)
	if err != nil {
		return nil, fmt.Errorf("torch: jit load: %w", err)
	}
	if kind == "pickle" {
		return nil, fmt.Errorf("torch: jit load: %s is a torch.save pickle (for example a state dict), not a TorchScript module; load it with LoadPickleTensors, or export the model with torch.jit.trace/torch.jit.script and torch.jit.save", path)
	}
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	var m C.ht_module
	if err := check("jit_load", C.ht_jit_load(cs, d.code(), &m)); err != nil {
		return nil, err
	}
	mod := &Module{m: m, path: path}
	runtime.SetFinalizer(mod, (*Module).Free)
	return mod, nil
}

// Free releases the module; idempotent.
func (m *Module) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m != nil {
		C.ht_module_free(m.m)
		m.m = nil
	}
}

var errModuleFreed = errors.New("torch: use of a freed module")

// Forward calls the module's forward with tensor arguments and returns its tensor result (or the
// first element of a returned tuple). The result joins the scope of the first scoped input.
func (m *Module) Forward(inputs ...*Tensor) (*Tensor, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.m == nil {
		return nil, errModuleFreed
	}
	hs, err := handles(inputs)
	if err != nil {
		return nil, err
	}
	var p *C.ht_tensor
	if len(hs) > 0 {
		p = &hs[0]
	}
	var out C.ht_tensor
	err = check("jit_forward", C.ht_jit_forward(m.m, p, C.int(len(hs)), &out))
	runtime.KeepAlive(inputs)
	return result(out, err, inputs...)
}

// NamedTensor is a tensor with its name (a parameter or a state-dict entry).
type NamedTensor struct {
	Name   string
	Tensor *Tensor
}

func collectNamed(op string, e C.ht_err, arr *C.ht_tensor, names *C.char, n C.int) ([]NamedTensor, error) {
	if err := check(op, e); err != nil {
		return nil, err
	}
	defer C.ht_free_buffer(unsafe.Pointer(arr))
	defer C.ht_free_buffer(unsafe.Pointer(names))
	count := int(n)
	hs := unsafe.Slice(arr, max(count, 1))[:count]
	var ns []string
	if count > 0 {
		ns = strings.Split(C.GoString(names), "\n")
	}
	if len(ns) != count {
		for _, h := range hs {
			C.ht_free(h)
		}
		return nil, fmt.Errorf("torch: %s: %d names for %d tensors", op, len(ns), count)
	}
	out := make([]NamedTensor, count)
	for i := range hs {
		out[i] = NamedTensor{Name: ns[i], Tensor: newTensor(hs[i])}
	}
	return out, nil
}

// NamedParameters returns the module's parameters (recursively, dotted names such as
// "h.0.attn.c_attn.weight"), as handles sharing the module's storage: updating them in place
// (an optimizer step) updates the module. The caller frees the handles.
func (m *Module) NamedParameters() ([]NamedTensor, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.m == nil {
		return nil, errModuleFreed
	}
	var arr *C.ht_tensor
	var names *C.char
	var n C.int
	e := C.ht_jit_named_parameters(m.m, &arr, &names, &n)
	return collectNamed("jit_named_parameters", e, arr, names, n)
}

// Train switches the module (and its submodules) to training (true) or eval mode.
func (m *Module) Train(on bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		return errModuleFreed
	}
	return check("jit_train", C.ht_jit_train(m.m, cBool(on)))
}

// To moves the module's parameters and buffers to device d (and dtype dt if dt >= 0).
func (m *Module) To(d Device, dt DType) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		return errModuleFreed
	}
	return check("jit_to", C.ht_jit_to(m.m, d.code(), C.int(dt)))
}

// LoadPickleTensors reads a torch.save zip file holding a dict of tensors (a state dict such as
// pytorch_model.bin) with libtorch's pickle reader. Errors: not a torch.save zip (a TorchScript
// file is reported as such), or entries that are not tensors.
func LoadPickleTensors(path string) ([]NamedTensor, error) {
	kind, err := zipKind(path)
	if err != nil {
		return nil, fmt.Errorf("torch: pickle load: %w", err)
	}
	if kind == "torchscript" {
		return nil, fmt.Errorf("torch: pickle load: %s is a TorchScript module, not a state dict; use LoadModule", path)
	}
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	var arr *C.ht_tensor
	var names *C.char
	var n C.int
	e := C.ht_pickle_load_tensors(cs, &arr, &names, &n)
	return collectNamed("pickle_load", e, arr, names, n)
}
