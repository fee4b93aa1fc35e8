package eval

import (
	"fmt"
	"math"
)

// Regression holds point-prediction error metrics over N (prediction, target)
// pairs, in the units of the target (RMSE, MAE) or its square (MSE).
type Regression struct {
	// MSE is the mean squared error (1/N) Σ (p_n - t_n)².
	MSE float64 `json:"mse"`
	// RMSE is the root mean squared error √MSE.
	RMSE float64 `json:"rmse"`
	// MAE is the mean absolute error (1/N) Σ |p_n - t_n|.
	MAE float64 `json:"mae"`
	// N is the number of pairs the means are taken over.
	N int `json:"n"`
}

// RegressionMetrics returns the MSE, RMSE and MAE of pred against target
// (the usual definitions, as in sklearn.metrics.mean_squared_error and
// mean_absolute_error with uniform sample weights):
//
//	MSE  = (1/N) Σ_n (pred_n - target_n)²
//	RMSE = √MSE
//	MAE  = (1/N) Σ_n |pred_n - target_n|
//
// Empty inputs give all-zero metrics with N = 0. NaN inputs propagate to the
// result. It panics if len(pred) != len(target).
func RegressionMetrics(pred, target []float64) Regression {
	if len(pred) != len(target) {
		panic(fmt.Sprintf("eval: RegressionMetrics length mismatch: %d predictions, %d targets", len(pred), len(target)))
	}
	n := len(pred)
	if n == 0 {
		return Regression{}
	}
	target = target[:n]
	var se, ae float64
	for i, p := range pred {
		d := p - target[i]
		se += d * d
		ae += math.Abs(d)
	}
	mse := se / float64(n)
	return Regression{MSE: mse, RMSE: math.Sqrt(mse), MAE: ae / float64(n), N: n}
}
