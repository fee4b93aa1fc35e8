package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hier-ai/hier/hier/data"
	"github.com/hier-ai/hier/hier/rec"
	"github.com/hier-ai/hier/hier/version"
	"github.com/hier-ai/hier/torch"
)

// Versions are the software versions that made a result.
type Versions struct {
	Hier     string `json:"hier"`     // version.Hier: module version, VCS revision when recorded
	Go       string `json:"go"`       // runtime.Version()
	Libtorch string `json:"libtorch"` // the libtorch the native shim was built against
	Platform string `json:"platform"` // GOOS/GOARCH
}

// currentVersions are the running program's versions.
func currentVersions() Versions {
	return Versions{Hier: version.Hier(), Go: runtime.Version(), Libtorch: torch.LibtorchVersion(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}

// DataFile is one file the dataset was read from.
type DataFile struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// DataSource says which data a result was computed on.
type DataSource struct {
	// Path is the dataset file or directory as resolved (absolute); empty for a generated or
	// in-memory dataset.
	Path   string `json:"path,omitempty"`
	Format string `json:"format,omitempty"` // data.Dataset.Format, e.g. "amazon-csv", "movielens-100k"
	// Files are the files read, with their size and SHA-256 at the time of the run.
	Files []DataFile `json:"files,omitempty"`
	// Synthetic is the generator configuration of the synthetic shop.
	Synthetic *data.SyntheticConfig `json:"synthetic,omitempty"`
	// MaxUsers is the --max-users slice (the first N users in file order); 0: all users.
	MaxUsers int `json:"max_users,omitempty"`
}

// dataSource describes ds (loaded from opts.DataPath, or generated from opts.Synthetic), hashing
// the files it was read from.
func dataSource(opts *Options, ds *data.Dataset) (DataSource, error) {
	src := DataSource{Path: opts.DataPath, Format: ds.Format, MaxUsers: opts.MaxUsers}
	if opts.DataPath == "" && opts.Synthetic != nil && ds.Format == data.FormatSynthetic {
		c := *opts.Synthetic // the generator settings, as config.json's synthetic block
		src.Synthetic = &c
	}
	for _, f := range ds.Files {
		df, err := hashFile(f)
		if err != nil {
			return src, err
		}
		src.Files = append(src.Files, df)
	}
	return src, nil
}

// hashFile is f's absolute path, size and SHA-256.
func hashFile(f string) (DataFile, error) {
	abs, err := filepath.Abs(f)
	if err != nil {
		return DataFile{}, err
	}
	fh, err := os.Open(abs)
	if err != nil {
		return DataFile{}, fmt.Errorf("pipeline: hashing the data: %w", err)
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return DataFile{}, fmt.Errorf("pipeline: hashing the data file %s: %w", abs, err)
	}
	return DataFile{Path: abs, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ProtocolInfo states how the ranking numbers were computed, as the code does it (data.Split,
// rec.Data.History, eval.RankOf, rec.Search, eval.PairedBootstrap, rec.SliceDefs).
type ProtocolInfo struct {
	// Split is "temporal_leave_one_out"; SplitRule spells it out.
	Split     string `json:"split"`
	SplitRule string `json:"split_rule"`
	// Candidates is "full_catalogue"; CatalogueItems the number of items ranked per user.
	Candidates     string `json:"candidates"`
	CatalogueItems int    `json:"catalogue_items"`
	// Masking is which items are removed from a user's candidates.
	Masking string `json:"masking"`
	// Ties is "pessimistic"; TieRule the rank formula.
	Ties    string `json:"ties"`
	TieRule string `json:"tie_rule"`
	// K are the cut-offs of HR@K and NDCG@K; Metrics the reported metrics (MRR has no cut-off).
	K       []int    `json:"k"`
	Metrics []string `json:"metrics"`
	// Selection is how each method's configuration was chosen and how the test split was used.
	Selection string `json:"selection"`
	// Seeds are the recommender seeds (each chosen configuration trained once per seed; the
	// ranking table is their mean, ranking_std their sample standard deviation).
	Seeds []uint64 `json:"seeds"`
	// Bootstrap describes the paired bootstrap of the comparisons.
	Bootstrap string `json:"bootstrap"`
	// Slices describes the slice tables.
	Slices string `json:"slices"`
}

// Bootstrap settings of the comparisons.
const (
	bootstrapResamples = 10000
	bootstrapSeed      = 1
)

// protocolInfo describes the evaluation of a run over catalogue items with the given recommender
// seeds.
func protocolInfo(catalogue int, seeds []uint64) ProtocolInfo {
	ks := append([]int(nil), rec.RankingKs...)
	var metrics []string
	for _, prefix := range []string{"hr@", "ndcg@"} {
		for _, k := range ks {
			metrics = append(metrics, prefix+strconv.Itoa(k))
		}
	}
	metrics = append(metrics, "mrr")
	kList := make([]string, len(ks))
	for i, k := range ks {
		kList[i] = strconv.Itoa(k)
	}
	return ProtocolInfo{
		Split: "temporal_leave_one_out",
		SplitRule: "duplicate (user, item) pairs removed first (the earliest kept); each user's interactions ordered by (time, row in the file); " +
			"the last is the test item, the second last the validation item, the rest training; users with fewer than 3 interactions are training-only " +
			"(no validation or test item); ids are indexed over every interaction, so items seen only in validation or test are in the catalogue",
		Candidates:     "full_catalogue",
		CatalogueItems: catalogue,
		Masking: "the user's training items when ranking the validation item; the training items and the validation item when ranking the test item; " +
			"the held-out item itself is always ranked; every other item is a candidate (no sampled negatives)",
		Ties: "pessimistic",
		TieRule: "0-based rank = #{unmasked j != t: s_j > s_t} + #{unmasked j != t: s_j = s_t}: the held-out item t ranks behind every candidate " +
			"with an equal score; NaN scores count as -inf",
		K:       ks,
		Metrics: metrics,
		Selection: "every recommender's configuration is chosen from its family's candidates by validation NDCG@10 with the first seed " +
			"(early stopping on validation NDCG@10, best epoch restored), then trained with every seed; the best methods compared are chosen by " +
			"mean validation NDCG@10; the test split is ranked once per trained model; popularity (training interaction counts) is not tuned. " +
			"HR@K and NDCG@K for K in " + strings.Join(kList, ", ") + "; MRR over the full ranking (no cut-off)",
		Seeds:     seeds,
		Bootstrap: fmt.Sprintf("paired over test users: per-user NDCG@10 averaged over seeds, %d resamples (seed %d), percentile 95%% interval of the mean difference", bootstrapResamples, bootstrapSeed),
		Slices:    "test users by number of training interactions (1-2, 3-4, 5-7, 8+); held-out items by training popularity (head: the ceil(20%) most-interacted items, ties by item index; tail: the rest); means over seeds",
	}
}

// recSeeds are the recommender seeds of a run: Seed, Seed+1, ….
func recSeeds(o *Options) []uint64 {
	s := make([]uint64, o.Recommenders.Seeds)
	for k := range s {
		s[k] = o.Seed + uint64(k)
	}
	return s
}

// fillProvenance sets the provenance fields of res: seed, date (now, RFC 3339 UTC), versions,
// device, threads, data and protocol.
func fillProvenance(e *env, p *prepared, src DataSource, res *Results) {
	res.Seed = e.opts.Seed
	res.Date = time.Now().UTC().Format(time.RFC3339)
	res.Versions = currentVersions()
	res.Device = e.dev.String()
	res.Threads = e.opts.Threads
	res.Precision = e.opts.Precision
	res.Data = src
	res.Protocol = protocolInfo(p.sd.NumItems(), recSeeds(&e.opts))
}
