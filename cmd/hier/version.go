package main

import (
	"fmt"
	"runtime"

	"github.com/hier-ai/hier/hier/version"
	"github.com/hier-ai/hier/torch"
	"github.com/urfave/cli/v2"
)

func init() { commands = append(commands, cmdVersion()) }

// versionInfo is the JSON form of 'hier version --json'.
type versionInfo struct {
	Hier          string `json:"hier"`
	Go            string `json:"go"`
	Libtorch      string `json:"libtorch"`
	MinLibtorch   string `json:"min_libtorch"`
	CUDAAvailable bool   `json:"cuda_available"`
	CUDADevices   int    `json:"cuda_devices"`
	Device        string `json:"device"`
	Threads       int    `json:"threads"`
	CPUs          int    `json:"cpus"`
}

// hierVersion is the module's version from the build info ("(devel)" for a local build, with
// the VCS revision when recorded); metrics.json records the same (version.Hier).
func hierVersion() string { return version.Hier() }

func cmdVersion() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the hier, Go and libtorch versions, CUDA availability and the thread count",
		Description: "The libtorch version is the one the native shim (libhiertorch.so: build/ of a checkout, or an\n" +
			"installed one) was compiled against; the runtime check (ABI and libtorch >= " + torch.MinTorchVersion + ") has passed when this prints.\n\n" +
			"JSON (--json): {\"hier\", \"go\", \"libtorch\", \"min_libtorch\", \"cuda_available\", \"cuda_devices\",\n" +
			"\"device\" (what --device resolves to), \"threads\" (libtorch intra-op threads), \"cpus\"}.",
		Action: func(c *cli.Context) error {
			env := envOf(c)
			v := versionInfo{
				Hier:          hierVersion(),
				Go:            runtime.Version(),
				Libtorch:      torch.LibtorchVersion(),
				MinLibtorch:   torch.MinTorchVersion,
				CUDAAvailable: torch.CUDAAvailable(),
				CUDADevices:   torch.CUDADeviceCount(),
				Device:        env.Device.String(),
				Threads:       torch.NumThreads(),
				CPUs:          runtime.NumCPU(),
			}
			if env.JSON {
				return writeJSON(env.Out, v)
			}
			_, err := fmt.Fprintf(env.Out,
				"hier %s (%s, %s/%s)\nlibtorch %s (runtime check passed; minimum %s)\nCUDA available: %t (%d device(s))\ndevice: %s\nthreads: %d (of %d CPUs)\n",
				v.Hier, v.Go, runtime.GOOS, runtime.GOARCH, v.Libtorch, v.MinLibtorch,
				v.CUDAAvailable, v.CUDADevices, v.Device, v.Threads, v.CPUs)
			return err
		},
	}
}
