package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// minClusters is the number of clusters below which a cluster-robust standard
// error is known to be too small (Cameron & Miller 2015, J. Human Resources
// 50:317–372, put the danger zone at "few": 20 to 50).
const minClusters = 30

// A ClusterMean is the mean of paired differences with a standard error robust
// to correlation within clusters of cases.
type ClusterMean struct {
	N        int     // differences
	Clusters int     // G, the number of clusters
	Mean     float64 // mean of the differences
	// SE is the CR1 (Liang–Zeger) cluster-robust standard error of Mean:
	// √( G/(G−1) · Σ_g (Σ_{i∈g} (dᵢ − mean))² ) / n.
	SE float64
	// NaiveSE is the standard error that ignores clusters, sd/√n: the same
	// formula with every case a cluster of its own.
	NaiveSE float64
	// DesignEffect is (SE/NaiveSE)²: how much the clustering inflates the
	// variance; n/DesignEffect is the effective number of independent cases.
	DesignEffect float64
	// DF is G − 1, the degrees of freedom of the t distribution used for CI.
	DF       float64
	CI       Interval
	Warnings []error
}

// ClusteredMean returns the mean of d with its CR1 cluster-robust standard
// error, the small-sample factor G/(G−1) included (Stata's vce(cluster) and
// R's sandwich::vcovCL(lm(d ~ 1), cluster = g, type = "HC1") for a mean). The
// interval uses Student's t with G−1 degrees of freedom. Cases with equal
// cluster labels share a cluster; an empty label makes a case a cluster of its
// own. ClusteredMean panics if d and cluster differ in length.
func ClusteredMean(d []float64, cluster []string, level float64) ClusterMean {
	checkLevel("level", level)
	if len(d) != len(cluster) {
		panic("stats: ClusteredMean needs slices of equal length")
	}
	nan := math.NaN()
	n := len(d)
	r := ClusterMean{N: n, Mean: nan, SE: nan, NaiveSE: nan, DesignEffect: nan, DF: nan, CI: Interval{nan, nan, level}}
	if n == 0 {
		r.Warnings = append(r.Warnings, errors.New("no cases: the mean is undefined"))
		return r
	}
	sum := 0.0
	for _, v := range d {
		sum += v
	}
	mean := sum / float64(n)
	r.Mean = mean

	// Residual sums per cluster; singletons are summed as they come.
	ids := make(map[string]int)
	var sums []float64
	ss, naive := 0.0, 0.0
	for i, v := range d {
		e := v - mean
		naive += e * e
		if cluster[i] == "" {
			ss += e * e
			r.Clusters++
			continue
		}
		k, ok := ids[cluster[i]]
		if !ok {
			k = len(sums)
			ids[cluster[i]] = k
			sums = append(sums, 0)
			r.Clusters++
		}
		sums[k] += e
	}
	for _, s := range sums {
		ss += s * s
	}
	g := float64(r.Clusters)
	fn := float64(n)
	if n > 1 {
		r.NaiveSE = math.Sqrt(fn/(fn-1)*naive) / fn
	}
	if r.Clusters < 2 {
		r.Warnings = append(r.Warnings, errors.New("need ≥ 2 clusters for a cluster-robust standard error"))
		return r
	}
	r.SE = math.Sqrt(g/(g-1)*ss) / fn
	if r.NaiveSE > 0 {
		r.DesignEffect = sq(r.SE / r.NaiveSE)
	}
	r.DF = g - 1
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DF}.Quantile(1 - (1-level)/2)
	r.CI.Lo, r.CI.Hi = mean-q*r.SE, mean+q*r.SE
	if r.Clusters < minClusters && r.Clusters < n {
		r.Warnings = append(r.Warnings, fmt.Errorf("only %d clusters: a cluster-robust standard error is unreliable below %d", r.Clusters, minClusters))
	}
	return r
}

// At returns the interval for Mean at another confidence level, with the same
// standard error and degrees of freedom; NaN ends when SE is undefined.
func (c ClusterMean) At(level float64) Interval {
	checkLevel("level", level)
	iv := Interval{math.NaN(), math.NaN(), level}
	if !(c.DF >= 1) || math.IsNaN(c.SE) {
		return iv
	}
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: c.DF}.Quantile(1 - (1-level)/2)
	iv.Lo, iv.Hi = c.Mean-q*c.SE, c.Mean+q*c.SE
	return iv
}

// P returns the p-value of the t test that the interval At inverts: the
// statistic (Mean − null)/SE on DF degrees of freedom, against the
// alternative alt (R's pt). When every difference is the same (SE 0) the
// p-value is 0 or 1 by the side Mean lies on, ½ one-sided and 1 two-sided
// when it equals null. NaN when SE is undefined (fewer than two clusters).
func (c ClusterMean) P(null float64, alt Alternative) float64 {
	if !(c.DF >= 1) || math.IsNaN(c.SE) || math.IsNaN(c.Mean) {
		return math.NaN()
	}
	// less and greater are P(T ≤ t) and P(T ≥ t), each from its own tail so
	// that a small p-value keeps its precision.
	var less, greater float64
	switch d := c.Mean - null; {
	case c.SE > 0:
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: c.DF}
		less, greater = t.CDF(d/c.SE), t.CDF(-d/c.SE)
	case d < 0:
		less, greater = 0, 1
	case d > 0:
		less, greater = 1, 0
	default:
		less, greater = 0.5, 0.5
	}
	switch alt {
	case Less:
		return less
	case Greater:
		return greater
	}
	return math.Min(1, 2*math.Min(less, greater))
}
