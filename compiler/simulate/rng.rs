//! The simulator's random numbers: a small, seeded generator (xoshiro256**, seeded
//! through SplitMix64) and the draws the simulation needs. Written here so that a seed
//! gives the same requests on every platform and every version of every dependency.

pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // SplitMix64 spreads any seed (0 included) over the whole state.
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform on [0, 1), 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on (0, 1]: safe to take the logarithm of.
    fn open_unit(&mut self) -> f64 {
        1.0 - self.unit()
    }

    /// An exponential draw with mean `mean` (a Poisson process's gap).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.open_unit().ln()
    }

    /// A standard normal draw (Box-Muller; one of the pair is used, so a draw always
    /// takes two numbers and the sequence does not depend on earlier draws' parity).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.open_unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A gamma draw of shape `k` and scale 1 (Marsaglia and Tsang, "A simple method for
    /// generating gamma variables", ACM TOMS 26(3), 2000: a squeeze on a transformed
    /// normal for k >= 1; for k < 1, a draw of shape k + 1 times U^(1/k)).
    pub fn gamma(&mut self, k: f64) -> f64 {
        if k < 1.0 {
            let u = self.open_unit();
            return self.gamma(k + 1.0) * u.powf(1.0 / k);
        }
        let d = k - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.open_unit();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// An integer uniform on `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        let span = hi - lo + 1;
        // Lemire's multiply-shift; the bias for spans < 2^32 is below 2^-32.
        lo + ((self.next_u64() as u128 * span as u128) >> 64) as u64
    }

    /// Whether an event of probability `p` happens.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers_and_another_seed_others() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::new(8);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn draws_have_their_distributions_moments() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let exp: f64 = (0..n).map(|_| r.exponential(2.5)).sum::<f64>() / n as f64;
        assert!((exp - 2.5).abs() < 0.03, "exponential mean {exp}");
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "normal mean {mean} variance {var}");
        let u: Vec<u64> = (0..n).map(|_| r.between(3, 5)).collect();
        assert!(u.iter().all(|x| (3..=5).contains(x)));
        for v in 3..=5 {
            let share = u.iter().filter(|x| **x == v).count() as f64 / n as f64;
            assert!((share - 1.0 / 3.0).abs() < 0.01, "{v}: {share}");
        }
        let hits = (0..n).filter(|_| r.chance(0.3)).count() as f64 / n as f64;
        assert!((hits - 0.3).abs() < 0.01);
    }

    #[test]
    fn gamma_draws_have_the_shapes_mean_and_variance() {
        let mut r = Rng::new(3);
        for k in [0.25, 1.0, 4.0, 30.0] {
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| r.gamma(k)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
            // gamma(k, 1): mean k, variance k
            assert!((mean / k - 1.0).abs() < 0.02, "k {k}: mean {mean}");
            assert!((var / k - 1.0).abs() < 0.05, "k {k}: variance {var}");
            assert!(xs.iter().all(|&x| x >= 0.0 && x.is_finite()));
        }
    }
}
