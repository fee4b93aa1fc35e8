package torch

/*
#include "hier_torch.h"
*/
import "C"

import (
	"fmt"
	"strings"
)

// DType is a tensor element type; values follow c10::ScalarType.
type DType int8

// Element types. Float16 and BFloat16 are storage types for GPU work; Go slices convert through
// Float32 (use To).
const (
	Uint8    DType = C.HT_UINT8
	Int8     DType = C.HT_INT8
	Int16    DType = C.HT_INT16
	Int32    DType = C.HT_INT32
	Int64    DType = C.HT_INT64
	Float16  DType = C.HT_FLOAT16
	Float32  DType = C.HT_FLOAT32
	Float64  DType = C.HT_FLOAT64
	Bool     DType = C.HT_BOOL
	BFloat16 DType = C.HT_BFLOAT16
)

var dtypeNames = map[DType]string{
	Uint8: "uint8", Int8: "int8", Int16: "int16", Int32: "int32", Int64: "int64",
	Float16: "float16", Float32: "float32", Float64: "float64", Bool: "bool", BFloat16: "bfloat16",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// Size is the element size in bytes (0 for an unknown dtype).
func (d DType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Int16, Float16, BFloat16:
		return 2
	case Int32, Float32:
		return 4
	case Int64, Float64:
		return 8
	}
	return 0
}

// IsFloat reports whether d is a floating-point dtype.
func (d DType) IsFloat() bool {
	return d == Float16 || d == Float32 || d == Float64 || d == BFloat16
}

// ParseDType accepts "float32"/"f32"/"fp32", "float64"/"f64", "bfloat16"/"bf16", "float16"/"f16"/"half",
// "int64", "int32", "uint8", "int8", "int16", "bool".
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "float32", "f32", "fp32", "float":
		return Float32, nil
	case "float64", "f64", "fp64", "double":
		return Float64, nil
	case "bfloat16", "bf16":
		return BFloat16, nil
	case "float16", "f16", "fp16", "half":
		return Float16, nil
	case "int64", "i64", "long":
		return Int64, nil
	case "int32", "i32", "int":
		return Int32, nil
	case "int16", "i16":
		return Int16, nil
	case "int8", "i8":
		return Int8, nil
	case "uint8", "u8":
		return Uint8, nil
	case "bool":
		return Bool, nil
	}
	return 0, fmt.Errorf("torch: unknown dtype %q", s)
}
