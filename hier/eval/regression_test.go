package eval

import (
	"encoding/json"
	"math"
	"testing"
)

// pred = [1, 2, 3, 4], target = [1.5, 2, 2, 6]
// errors     = [-0.5, 0, 1, -2]
// squared    = [0.25, 0, 1, 4]  -> MSE = 5.25/4 = 1.3125, RMSE = √1.3125 = 1.1456439237389600
// |error|    = [0.5, 0, 1, 2]   -> MAE = 3.5/4 = 0.875
func TestRegressionMetrics(t *testing.T) {
	r := RegressionMetrics([]float64{1, 2, 3, 4}, []float64{1.5, 2, 2, 6})
	near(t, "MSE", r.MSE, 1.3125, 0)
	near(t, "RMSE", r.RMSE, math.Sqrt(1.3125), 0)
	near(t, "RMSE literal", r.RMSE, 1.14564392373896, 1e-14)
	near(t, "MAE", r.MAE, 0.875, 0)
	if r.N != 4 {
		t.Errorf("N = %d, want 4", r.N)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"mse":1.3125,"rmse":1.14564392373896,"mae":0.875,"n":4}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}

	if z := RegressionMetrics(nil, nil); z != (Regression{}) {
		t.Errorf("empty = %+v, want zero", z)
	}
	if !panics(func() { RegressionMetrics([]float64{1}, nil) }) {
		t.Error("length mismatch did not panic")
	}
}
