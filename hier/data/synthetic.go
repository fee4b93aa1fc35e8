package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// SyntheticConfig sizes and seeds the synthetic music-gear shop. Zero fields
// take the value of DefaultSyntheticConfig (Seed 0 is a valid seed).
type SyntheticConfig struct {
	Seed uint64 `json:"seed"`
	// Users, Items: numbers of users and items (defaults 300, 120).
	Users int `json:"users"`
	Items int `json:"items"`
	// Categories: number of product categories, 1..len(SyntheticCategories())
	// (default 6). Items are assigned to categories round-robin.
	Categories int `json:"categories"`
	// MinPerUser, MaxPerUser: each user has a uniform number of interactions
	// in [MinPerUser, MaxPerUser] (defaults 8, 20), at most Items.
	MinPerUser int `json:"min_per_user"`
	MaxPerUser int `json:"max_per_user"`
	// Concentration is the Dirichlet parameter of the users' category
	// preferences; small values make users focus on few categories
	// (default 0.3).
	Concentration float64 `json:"concentration"`
	// Explore is the probability that an interaction picks a uniformly random
	// category instead of one drawn from the user's preferences
	// (default 0.15; a negative value means 0).
	Explore float64 `json:"explore"`
	// Noise is the standard deviation of the rating noise (default 0.6; a
	// negative value means 0).
	Noise float64 `json:"noise"`
	// Start is the unix time of the first possible interaction (default
	// 2015-01-01T00:00:00Z).
	Start int64 `json:"start"`
}

// syntheticLegacyKeys are the JSON keys of SyntheticConfig written before it had JSON tags
// (Go field names; the one-word ones match their tags case-insensitively anyway).
var syntheticLegacyKeys = map[string]string{"minperuser": "min_per_user", "maxperuser": "max_per_user"}

// UnmarshalJSON reads the snake_case keys (min_per_user) and, for the run directories written
// before them, the Go field names (MinPerUser). Fields absent from the JSON keep their values;
// an unknown key, or a field given under both names, is an error.
func (c *SyntheticConfig) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil { // null
		return nil
	}
	for key, val := range raw {
		canon, ok := syntheticLegacyKeys[strings.ToLower(key)]
		if !ok {
			continue
		}
		if _, dup := raw[canon]; dup {
			return fmt.Errorf("synthetic: %q and %q are the same field; give %q only", key, canon, canon)
		}
		delete(raw, key)
		raw[canon] = val
	}
	norm, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	type plain SyntheticConfig // without this method
	dec := json.NewDecoder(bytes.NewReader(norm))
	dec.DisallowUnknownFields()
	if err := dec.Decode((*plain)(c)); err != nil {
		return fmt.Errorf("synthetic: %w", err)
	}
	return nil
}

// DefaultSyntheticConfig returns the configuration of the embedded demo
// dataset: 300 users, 120 items in 6 categories, 8–20 interactions per user
// (about 4,200 interactions), seed 1.
func DefaultSyntheticConfig() SyntheticConfig {
	return SyntheticConfig{
		Seed:          1,
		Users:         300,
		Items:         120,
		Categories:    6,
		MinPerUser:    8,
		MaxPerUser:    20,
		Concentration: 0.3,
		Explore:       0.15,
		Noise:         0.6,
		Start:         1420070400,
	}
}

type shopCategory struct {
	name     string   // display name, e.g. "Guitars"
	short    string   // short noun for summaries, e.g. "guitar"
	nouns    []string // product types
	features []string // parts/properties talked about in reviews
	adjs     []string // descriptive (non-sentiment) adjectives
}

var shopCategories = []shopCategory{
	{"Guitars", "guitar",
		[]string{"electric guitar", "acoustic guitar", "bass guitar", "classical guitar", "travel guitar"},
		[]string{"fretboard", "neck", "pickups", "frets", "tuning pegs", "sustain", "string action", "intonation", "body finish", "bridge"},
		[]string{"mahogany", "maple", "rosewood", "solid-top", "vintage-style", "humbucker-loaded"}},
	{"Drums", "drum",
		[]string{"snare drum", "drum kit", "cymbal pack", "drum throne", "practice pad"},
		[]string{"drum heads", "shells", "hardware", "cymbals", "kick pedal", "rebound", "snare wires", "lugs", "stick feel", "tom mounts"},
		[]string{"birch", "maple-shell", "brass", "hammered", "double-braced", "five-piece"}},
	{"Keyboards", "keyboard",
		[]string{"digital piano", "synthesizer", "MIDI controller", "stage piano", "arranger keyboard"},
		[]string{"keybed", "weighted action", "sound engine", "presets", "polyphony", "pitch wheel", "sequencer", "velocity curve", "knobs", "arpeggiator"},
		[]string{"88-key", "61-key", "analog", "polyphonic", "hammer-action", "semi-weighted"}},
	{"Microphones", "microphone",
		[]string{"condenser microphone", "dynamic microphone", "USB microphone", "ribbon microphone", "lavalier mic"},
		[]string{"capsule", "diaphragm", "pickup pattern", "shock mount", "pop filter", "self-noise", "sensitivity", "off-axis rejection", "frequency response", "grille"},
		[]string{"large-diaphragm", "cardioid", "supercardioid", "studio-grade", "phantom-powered", "broadcast"}},
	{"Cables", "cable",
		[]string{"instrument cable", "XLR cable", "patch cable", "speaker cable", "MIDI cable"},
		[]string{"connectors", "outer jacket", "shielding", "strain relief", "plugs", "conductor", "cable length", "solder joints", "braiding", "hum rejection"},
		[]string{"braided", "oxygen-free", "right-angle", "gold-plated", "low-capacitance", "tangle-free"}},
	{"Amplifiers", "amp",
		[]string{"tube amp", "combo amp", "amp head", "bass amp", "practice amp"},
		[]string{"speaker", "gain", "headroom", "spring reverb", "channels", "EQ section", "overdrive", "wattage", "cabinet", "power tubes"},
		[]string{"all-tube", "solid-state", "twin-channel", "modeling", "boutique", "open-back"}},
	{"Effects Pedals", "pedal",
		[]string{"overdrive pedal", "delay pedal", "fuzz pedal", "looper pedal", "chorus pedal"},
		[]string{"footswitch", "true bypass", "delay time", "feedback control", "tone knob", "power jack", "enclosure", "signal chain", "modulation", "LED indicator"},
		[]string{"analog", "compact", "stereo", "pedalboard-friendly", "hand-wired", "digital"}},
	{"Headphones", "headphones",
		[]string{"studio headphones", "in-ear monitors", "closed-back headphones", "open-back headphones", "DJ headphones"},
		[]string{"ear pads", "headband", "drivers", "isolation", "bass response", "soundstage", "detachable cable", "clamping force", "treble", "hinges"},
		[]string{"closed-back", "open-back", "foldable", "over-ear", "lightweight", "reference"}},
}

// SyntheticCategories returns the names of the categories the synthetic shop
// can use, in order (the first SyntheticConfig.Categories are used).
func SyntheticCategories() []string {
	out := make([]string, len(shopCategories))
	for i, c := range shopCategories {
		out[i] = c.name
	}
	return out
}

var (
	shopBrands    = []string{"Ashford", "Bellrock", "Corvane", "Dunmore", "Elkhorn", "Fairlane", "Greywater", "Halcyon", "Ironwood", "Juniper"}
	shopQualities = []string{"responsive", "balanced", "solid", "precise", "durable", "smooth", "versatile", "sturdy", "compact", "clean"}
	shopUses      = []string{"home studios", "live gigs", "beginners", "touring players", "practice sessions", "recording sessions", "rehearsals", "small venues"}

	// Sentiment phrase banks. {n} = product noun, {f}/{g} = features,
	// {a}/{b} = sentiment adjectives, {s} = category short noun, {br} = brand.
	posAdjs      = []string{"excellent", "superb", "great", "fantastic", "wonderful", "outstanding", "amazing", "impressive"}
	neuAdjs      = []string{"okay", "decent", "average", "acceptable", "fine", "adequate", "passable", "ordinary"}
	negAdjs      = []string{"terrible", "awful", "flimsy", "disappointing", "poor", "cheap", "noisy", "defective"}
	posOpeners   = []string{"I love this {n}.", "Absolutely excellent {n}.", "This {n} exceeded my expectations.", "Fantastic {n} for the price.", "Best {n} I have owned so far."}
	neuOpeners   = []string{"This {n} is okay.", "A decent {n}, nothing special.", "An average {n} overall.", "The {n} works, more or less as described.", "It is a fairly ordinary {n}."}
	negOpeners   = []string{"Very disappointed with this {n}.", "This {n} broke within a few weeks.", "I regret buying this {n}.", "Poor quality {n}, sadly.", "This {n} was a waste of money."}
	posBodies    = []string{"The {f} is {a} and the {g} is {b}.", "The {f} sounds {a}, and the {g} is {b} too.", "{br} got the {f} right: it is {a}."}
	neuBodies    = []string{"The {f} is {a}, the {g} is {b}.", "The {f} is {a} but the {g} could be better.", "Nothing wrong with the {f}, it is {a}."}
	negBodies    = []string{"The {f} is {a} and the {g} is {b}.", "The {f} stopped working and the {g} is {b}.", "{br} cut corners: the {f} is {a}."}
	posCaveats   = []string{"The {f} could be a little better, though.", "Only wish the {f} were slightly nicer."}
	negCaveats   = []string{"The {f} is fine, but that does not save it.", "At least the {f} is acceptable."}
	posClosers   = []string{"Highly recommend it.", "Worth every penny.", "Would buy again.", "Five stars from me.", "Love it."}
	neuClosers   = []string{"It does the job.", "Fair for the price.", "Mixed feelings overall.", "Nothing more, nothing less."}
	negClosers   = []string{"Would not recommend.", "Returned it.", "Save your money.", "Avoid this one."}
	posSummaries = []string{"Excellent {s}", "Love it", "Great {s}", "Highly recommended", "Superb {s} from {br}"}
	neuSummaries = []string{"It's okay", "Decent {s}", "Average", "Does the job", "An ordinary {s}"}
	negSummaries = []string{"Disappointing", "Not worth it", "Poor {s}", "Returned it", "Awful {s} from {br}"}
)

// SyntheticSentimentWords returns the sentiment adjectives used in synthetic
// reviews: positive, neutral and negative (for tests and diagnostics).
func SyntheticSentimentWords() (pos, neu, neg []string) {
	return append([]string(nil), posAdjs...), append([]string(nil), neuAdjs...), append([]string(nil), negAdjs...)
}

type shopItem struct {
	id, name, noun, brand string
	cat                   int
	pop                   float64 // popularity weight
	quality               float64 // latent quality (rating offset)
}

func (cfg *SyntheticConfig) fill() {
	d := DefaultSyntheticConfig()
	if cfg.Users <= 0 {
		cfg.Users = d.Users
	}
	if cfg.Items <= 0 {
		cfg.Items = d.Items
	}
	if cfg.Categories <= 0 {
		cfg.Categories = d.Categories
	}
	cfg.Categories = min(cfg.Categories, len(shopCategories))
	if cfg.MinPerUser <= 0 {
		cfg.MinPerUser = d.MinPerUser
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = d.MaxPerUser
	}
	cfg.MaxPerUser = min(cfg.MaxPerUser, cfg.Items)
	cfg.MinPerUser = min(cfg.MinPerUser, cfg.MaxPerUser)
	if !(cfg.Concentration > 0) || math.IsInf(cfg.Concentration, 0) {
		cfg.Concentration = d.Concentration
	}
	switch {
	case cfg.Explore < 0 || math.IsNaN(cfg.Explore):
		cfg.Explore = 0
	case cfg.Explore == 0:
		cfg.Explore = d.Explore
	case cfg.Explore > 1:
		cfg.Explore = 1
	}
	switch {
	case cfg.Noise < 0 || math.IsNaN(cfg.Noise) || math.IsInf(cfg.Noise, 0):
		cfg.Noise = 0
	case cfg.Noise == 0:
		cfg.Noise = d.Noise
	}
	if cfg.Start == 0 {
		cfg.Start = d.Start
	}
}

// Synthetic generates a seeded synthetic music-gear shop: the project's
// embedded default dataset (`hier demo`). The same config always yields the
// identical dataset.
//
// Items belong to categories (guitars, drums, keyboards, microphones,
// cables, amplifiers, ...); each has a name and a description drawn from its
// category's vocabulary (Dataset.ItemText: "name | category | description";
// Dataset.Items: the name as Title and the category).
// Users have Dirichlet-distributed category preferences and a sentiment
// bias; each chooses MinPerUser..MaxPerUser distinct items over time, mostly
// from preferred categories (popular items more often). The rating (1..5)
// grows with the preference for the item's category, the user's bias and
// the item's latent quality, plus Gaussian noise. Each interaction has a
// review (Text) and a title (Summary) whose wording follows the rating
// (positive for 4–5, neutral for 3, negative for 1–2 stars) and mentions the
// item's product type and features, and Values "helpful_votes" and
// "helpful_total". Interactions are in chronological order (Row = position).
func Synthetic(cfg SyntheticConfig) *Dataset {
	cfg.fill()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	K := cfg.Categories

	// Items, round-robin over categories.
	items := make([]shopItem, cfg.Items)
	byCat := make([][]int, K)
	itemText := make(map[string]string, cfg.Items)
	itemInfo := make(map[string]ItemInfo, cfg.Items)
	for i := range items {
		c := i % K
		cat := &shopCategories[c]
		it := shopItem{
			id:      fmt.Sprintf("I%04d", i+1),
			cat:     c,
			noun:    pick(rng, cat.nouns),
			brand:   pick(rng, shopBrands),
			pop:     math.Exp(0.8 * rng.NormFloat64()),
			quality: 0.4 * rng.NormFloat64(),
		}
		adj := pick(rng, cat.adjs)
		model := fmt.Sprintf("%c%c-%d", it.brand[0], 'A'+rune(rng.IntN(26)), 10*(1+rng.IntN(99)))
		it.name = fmt.Sprintf("%s %s %s %s", it.brand, adj, it.noun, model)
		f := pickN(rng, cat.features, 3)
		q := pickN(rng, shopQualities, 3)
		desc := fmt.Sprintf("%s %s %s with %s %s and %s %s. Built for %s; the %s is %s.",
			article(adj), adj, it.noun, q[0], f[0], q[1], f[1], pick(rng, shopUses), f[2], q[2])
		itemText[it.id] = it.name + " | " + cat.name + " | " + desc
		itemInfo[it.id] = ItemInfo{Title: it.name, Category: cat.name}
		items[i] = it
		byCat[c] = append(byCat[c], i)
	}

	type event struct {
		it   Interaction
		user int
		seq  int
	}
	var events []event
	for u := 0; u < cfg.Users; u++ {
		uid := fmt.Sprintf("U%04d", u+1)
		pref := dirichlet(rng, K, cfg.Concentration)
		maxPref := 0.0
		for _, p := range pref {
			maxPref = max(maxPref, p)
		}
		bias := 0.5 * rng.NormFloat64()
		n := cfg.MinPerUser + rng.IntN(cfg.MaxPerUser-cfg.MinPerUser+1)
		t := cfg.Start + rng.Int64N(540*86400)
		chosen := make(map[int]bool, n)
		for k := 0; k < n; k++ {
			c := rng.IntN(K)
			if rng.Float64() >= cfg.Explore {
				c = categorical(rng, pref)
			}
			i := pickItem(rng, items, byCat[c], chosen)
			if i < 0 {
				i = pickItem(rng, items, nil, chosen)
			}
			chosen[i] = true
			item := &items[i]
			match := pref[item.cat] / maxPref
			score := 2.3 + 2.2*match + bias + item.quality + cfg.Noise*rng.NormFloat64()
			rating := math.Round(math.Max(1, math.Min(5, score)))
			t += 3600 + int64(rng.ExpFloat64()*12*86400)
			summary, text := syntheticReview(rng, &shopCategories[item.cat], item, int(rating))
			total := int(math.Min(60, rng.ExpFloat64()*2*item.pop))
			p := 0.45 + 0.2*math.Abs(rating-3)/2 + 0.05*float64(strings.Count(text, "."))
			votes := 0
			for v := 0; v < total; v++ {
				if rng.Float64() < math.Min(p, 0.95) {
					votes++
				}
			}
			events = append(events, event{
				it: Interaction{
					User: uid, Item: item.id, Rating: rating, Time: t,
					Summary: summary, Text: text,
					Values: map[string]float64{"helpful_votes": float64(votes), "helpful_total": float64(total)},
				},
				user: u, seq: len(events),
			})
		}
	}
	sort.SliceStable(events, func(a, b int) bool {
		if events[a].it.Time != events[b].it.Time {
			return events[a].it.Time < events[b].it.Time
		}
		return events[a].seq < events[b].seq
	})
	ds := &Dataset{Name: "synthetic-shop", Format: FormatSynthetic, ItemText: itemText, Items: itemInfo}
	ds.Interactions = make([]Interaction, len(events))
	for k := range events {
		ds.Interactions[k] = events[k].it
		ds.Interactions[k].Row = k
	}
	ds.recount()
	return ds
}

// syntheticReview writes a (summary, text) pair whose wording follows the
// rating.
func syntheticReview(rng *rand.Rand, cat *shopCategory, item *shopItem, rating int) (string, string) {
	var adjs, openers, bodies, closers, summaries []string
	var caveats []string
	switch {
	case rating >= 4:
		adjs, openers, bodies, closers, summaries = posAdjs, posOpeners, posBodies, posClosers, posSummaries
		if rating == 4 {
			caveats = posCaveats
		}
	case rating == 3:
		adjs, openers, bodies, closers, summaries = neuAdjs, neuOpeners, neuBodies, neuClosers, neuSummaries
	default:
		adjs, openers, bodies, closers, summaries = negAdjs, negOpeners, negBodies, negClosers, negSummaries
		if rating == 2 {
			caveats = negCaveats
		}
	}
	f := pickN(rng, cat.features, 3)
	a := pickN(rng, adjs, 2)
	fill := func(s string) string {
		return strings.NewReplacer("{n}", item.noun, "{f}", f[0], "{g}", f[1], "{a}", a[0], "{b}", a[1],
			"{s}", cat.short, "{br}", item.brand).Replace(s)
	}
	parts := []string{fill(pick(rng, openers)), fill(pick(rng, bodies))}
	if caveats != nil && rng.IntN(2) == 0 {
		parts = append(parts, strings.ReplaceAll(pick(rng, caveats), "{f}", f[2]))
	}
	if rng.IntN(4) != 0 {
		parts = append(parts, pick(rng, closers))
	}
	return fill(pick(rng, summaries)), strings.Join(parts, " ")
}

// article returns "An" or "A" for a word.
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiouAEIOU8", rune(w[0])) {
		return "An"
	}
	return "A"
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// pickN returns n distinct elements of xs (n <= len(xs)) in random order.
func pickN[T any](rng *rand.Rand, xs []T, n int) []T {
	perm := rng.Perm(len(xs))
	out := make([]T, min(n, len(xs)))
	for i := range out {
		out[i] = xs[perm[i]]
	}
	return out
}

// pickItem draws an unchosen item from cands (all items if cands is nil)
// with probability proportional to popularity; -1 if none is left.
func pickItem(rng *rand.Rand, items []shopItem, cands []int, chosen map[int]bool) int {
	total := 0.0
	each := func(fn func(i int) bool) {
		if cands == nil {
			for i := range items {
				if !chosen[i] && !fn(i) {
					return
				}
			}
			return
		}
		for _, i := range cands {
			if !chosen[i] && !fn(i) {
				return
			}
		}
	}
	each(func(i int) bool { total += items[i].pop; return true })
	if total == 0 {
		return -1
	}
	x := rng.Float64() * total
	res := -1
	each(func(i int) bool {
		res = i
		x -= items[i].pop
		return x > 0
	})
	return res
}

// categorical draws an index with probability proportional to p.
func categorical(rng *rand.Rand, p []float64) int {
	x := rng.Float64()
	for i, v := range p {
		x -= v
		if x < 0 {
			return i
		}
	}
	return len(p) - 1
}

// dirichlet draws a symmetric Dirichlet(alpha) vector of length k.
func dirichlet(rng *rand.Rand, k int, alpha float64) []float64 {
	p := make([]float64, k)
	sum := 0.0
	for i := range p {
		p[i] = gammaSample(rng, alpha) + 1e-9
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// gammaSample draws from Gamma(alpha, 1) (Marsaglia and Tsang).
func gammaSample(rng *rand.Rand, alpha float64) float64 {
	if alpha < 1 {
		return gammaSample(rng, alpha+1) * math.Pow(rng.Float64(), 1/alpha)
	}
	d := alpha - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
