package torch

//go:generate go run ../scripts/genmust
