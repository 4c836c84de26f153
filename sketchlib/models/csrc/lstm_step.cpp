// The point-wise part of one LSTM step (forward with its local derivatives, and backward) as two native
// kernels, for sketchlib.models.fused.FusedLSTM on CPUs. Same mathematics as the Python of
// sketchlib.models.fused._PointwiseStep (which stays the reference; tests/test_native.py checks the two agree);
// the gain is one pass over each row instead of some twenty ATen ops per step.
//
// Per drawing b (a row), H units, the four gate blocks k = i, g, f, o:
//   x_hat_k = LN(gates_k)               (layer norm without gain, eps 1e-3; skipped for a plain LSTM)
//   s_k     = sigmoid(x_hat_k scale_k + shift_k)   (g's scale and shift doubled: tanh(g) = 2 s_g - 1)
//   c       = i m tanh(g) + f c_prev     (m: recurrent-dropout mask)
//   h       = o tanh(LN(c) gamma_c + beta_c)       (tanh through a sigmoid of the doubled argument)
// and the backward pass of the same step (see _PointwiseStep.backward for the formulas).
#include <torch/extension.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

constexpr float kEps = 1e-3f;  // Magenta's layer-norm epsilon

// exp(x) for float: Cephes' range reduction and polynomial (relative error about 2e-7); written so
// that GCC vectorises loops that call it, which std::exp does not allow.
inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);  // exp(-87) is still a normal float
  float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// Normalise x[0..H) in place (mean 0, variance 1, eps kEps); returns 1/std.
inline float normalise(float* x, int64_t H) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < H; ++j) sum += x[j];
  const float mean = sum / H;
  float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
  for (int64_t j = 0; j < H; ++j) {
    const float d = x[j] - mean;
    sq += d * d;
  }
  const float rstd = 1.0f / std::sqrt(sq / H + kEps);
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) x[j] = (x[j] - mean) * rstd;
  return rstd;
}

// dL/dx of x_hat = LN(x) from g = dL/dx_hat (in place into g): rstd (g - mean(g) - x_hat mean(g x_hat)).
inline void normalise_backward(float* g, const float* x_hat, float rstd, int64_t H) {
  float sg = 0.0f, sgx = 0.0f;
#pragma omp simd reduction(+ : sg, sgx)
  for (int64_t j = 0; j < H; ++j) {
    sg += g[j];
    sgx += g[j] * x_hat[j];
  }
  const float mg = sg / H, mgx = sgx / H;
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) g[j] = rstd * (g[j] - mg - x_hat[j] * mgx);
}

void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat, name, " must be a CPU float32 tensor");
  TORCH_CHECK(t.stride(-1) == 1, name, " must have unit stride in its last dimension");
}

const float* ptr_or_null(const c10::optional<at::Tensor>& t, const char* name) {
  if (!t.has_value()) return nullptr;
  check(*t, name);
  TORCH_CHECK(t->is_contiguous(), name, " must be contiguous");
  return t->data_ptr<float>();
}

}  // namespace

// gates: (B, 4H) pre-norm gates, contiguous, overwritten with the normalised gates (layer norm);
// c_prev: (B, H); mask: (B, H) or None; scale, shift: (4, H); cell_scale, cell_shift: (H,) or None (no
// layer norm); h_out: (B, H) rows of any stride. Returns [c] or, with keep,
// [c, deriv (B, 4H), f (B, H), dh_dcn (B, H), gates_hat (B, 4H), gate_rstd (B, 4), c_hat (B, H), cell_rstd (B)]
// (without the last four for a plain LSTM): what _PointwiseStep.keep returns.
std::vector<at::Tensor> step_forward(at::Tensor gates, const at::Tensor& c_prev, const c10::optional<at::Tensor>& mask,
                                     const at::Tensor& scale, const at::Tensor& shift,
                                     const c10::optional<at::Tensor>& cell_scale,
                                     const c10::optional<at::Tensor>& cell_shift, at::Tensor h_out, bool keep) {
  check(gates, "gates");
  check(c_prev, "c_prev");
  check(h_out, "h_out");
  TORCH_CHECK(gates.is_contiguous() && c_prev.is_contiguous(), "gates and c_prev must be contiguous");
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  TORCH_CHECK(gates.numel() == B * 4 * H && h_out.size(0) == B && h_out.size(1) == H, "shapes do not match");
  const bool ln = cell_scale.has_value();
  const float* m = ptr_or_null(mask, "mask");
  const float* sc = ptr_or_null(scale, "scale");
  const float* sh = ptr_or_null(shift, "shift");
  // a plain LSTM's tanh(c) is 2 sigmoid(2 c) - 1: cell scale 2 and shift 0; no mask is a mask of ones
  // (so that the loops below have no branches and vectorise)
  std::vector<float> twos(H, 2.0f), zeros(H, 0.0f), ones(H, 1.0f);
  const float* csc = ln ? ptr_or_null(cell_scale, "cell_scale") : twos.data();
  const float* csh = ln ? ptr_or_null(cell_shift, "cell_shift") : zeros.data();
  auto opts = c_prev.options();
  at::Tensor c = at::empty({B, H}, opts);
  at::Tensor deriv, f, dh_dcn, gate_rstd, c_hat, cell_rstd;
  if (keep) {
    deriv = at::empty({B, 4 * H}, opts);
    f = at::empty({B, H}, opts);
    dh_dcn = at::empty({B, H}, opts);
    if (ln) {
      gate_rstd = at::empty({B, 4}, opts);
      c_hat = at::empty({B, H}, opts);
      cell_rstd = at::empty({B}, opts);
    }
  }
  std::vector<float> s(4 * H), cn(H), sc_buf(H);
  float* g_all = gates.data_ptr<float>();
  const float* cp_all = c_prev.data_ptr<float>();
  const int64_t h_stride = h_out.stride(0);
  for (int64_t b = 0; b < B; ++b) {
    float* x = g_all + b * 4 * H;
    const float* cp = cp_all + b * H;
    const float* mb = m ? m + b * H : ones.data();
    float rstd_k[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    if (ln)
      for (int k = 0; k < 4; ++k) rstd_k[k] = normalise(x + k * H, H);
    float* sp = s.data();
#pragma omp simd
    for (int64_t j = 0; j < 4 * H; ++j) sp[j] = sigmoid(x[j] * sc[j] + sh[j]);
    const float *si = sp, *sg = sp + H, *sf = sp + 2 * H, *so = sp + 3 * H;
    float* cb = c.data_ptr<float>() + b * H;
    float* cnp = cn.data();
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float g = (2.0f * sg[j] - 1.0f) * mb[j];
      cb[j] = si[j] * g + sf[j] * cp[j];
      cnp[j] = cb[j];
    }
    float cell_r = 1.0f;
    if (ln) cell_r = normalise(cnp, H);
    float* hb = h_out.data_ptr<float>() + b * h_stride;
    float* scp = sc_buf.data();
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      scp[j] = sigmoid(cnp[j] * csc[j] + csh[j]);
      hb[j] = so[j] * (2.0f * scp[j] - 1.0f);
    }
    if (keep) {
      float* dv = deriv.data_ptr<float>() + b * 4 * H;
      float* fb = f.data_ptr<float>() + b * H;
      float* dd = dh_dcn.data_ptr<float>() + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const float g = (2.0f * sg[j] - 1.0f) * mb[j];
        dv[j] = si[j] * (1.0f - si[j]) * g;
        dv[H + j] = sg[j] * (1.0f - sg[j]) * si[j] * mb[j] * 4.0f;
        dv[2 * H + j] = sf[j] * (1.0f - sf[j]) * cp[j];
        dv[3 * H + j] = so[j] * (1.0f - so[j]) * (2.0f * scp[j] - 1.0f);
        dd[j] = scp[j] * (1.0f - scp[j]) * so[j] * 4.0f;
        fb[j] = sf[j];
      }
    }
    if (keep && ln) {
      std::memcpy(c_hat.data_ptr<float>() + b * H, cnp, H * sizeof(float));
      for (int k = 0; k < 4; ++k) gate_rstd.data_ptr<float>()[b * 4 + k] = rstd_k[k];
      cell_rstd.data_ptr<float>()[b] = cell_r;
    }
  }
  if (!keep) return {c};
  if (!ln) return {c, deriv, f, dh_dcn};
  return {c, deriv, f, dh_dcn, gates, gate_rstd, c_hat, cell_rstd};
}

// The backward pass of one step. kept: what step_forward returned after c; dh, dc: (B, H) dL/dh_t and
// dL/dc_t through later steps; d_gates: (B, 4H) written with dL/d(pre-norm gates); sums: the four running
// sums of the layer-norm parameters' gradients per row ((B, 4H), (B, 4H), (B, H), (B, H)), added to, and
// gate_gamma (4H), cell_gamma (H) the layer-norm gains (all empty for a plain LSTM). Returns dL/dc_{t-1}.
at::Tensor step_backward(const std::vector<at::Tensor>& kept, const at::Tensor& dh, const at::Tensor& dc,
                         at::Tensor d_gates, const std::vector<at::Tensor>& sums,
                         const c10::optional<at::Tensor>& gate_gamma, const c10::optional<at::Tensor>& cell_gamma) {
  const bool ln = gate_gamma.has_value();
  TORCH_CHECK(kept.size() == (ln ? 7u : 3u), "kept must hold the tensors step_forward kept");
  const at::Tensor &deriv = kept[0], &f = kept[1], &dh_dcn = kept[2];
  const int64_t B = dh.size(0), H = dh.size(1);
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{&dh, &dc, &d_gates}) {
    check(*t, "dh, dc and d_gates");
    TORCH_CHECK(t->is_contiguous(), "dh, dc and d_gates must be contiguous");
  }
  TORCH_CHECK(!ln || sums.size() == 4, "layer norm needs the four gradient sums");
  const float* gg = ptr_or_null(gate_gamma, "gate_gamma");
  const float* cg = ptr_or_null(cell_gamma, "cell_gamma");
  at::Tensor dc_prev = at::empty({B, H}, dh.options());
  std::vector<float> dcn(H);
  for (int64_t b = 0; b < B; ++b) {
    const float* dhb = dh.data_ptr<float>() + b * H;
    const float* dcb = dc.data_ptr<float>() + b * H;
    const float* dv = deriv.data_ptr<float>() + b * 4 * H;
    const float* dd = dh_dcn.data_ptr<float>() + b * H;
    float* dcn_p = dcn.data();
    float* da = d_gates.data_ptr<float>() + b * 4 * H;
    if (ln) {
      const float* c_hat = kept[5].data_ptr<float>() + b * H;
      float* s_cg = sums[2].data_ptr<float>() + b * H;
      float* s_cb = sums[3].data_ptr<float>() + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const float d_cn = dhb[j] * dd[j];
        s_cg[j] += d_cn * c_hat[j];
        s_cb[j] += d_cn;
        dcn_p[j] = d_cn * cg[j];
      }
      normalise_backward(dcn_p, c_hat, kept[6].data_ptr<float>()[b], H);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) dcn_p[j] += dcb[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) dcn_p[j] = dcb[j] + dhb[j] * dd[j];
    }
    // dcn_p now holds dL/dc_t
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      da[j] = dv[j] * dcn_p[j];
      da[H + j] = dv[H + j] * dcn_p[j];
      da[2 * H + j] = dv[2 * H + j] * dcn_p[j];
      da[3 * H + j] = dv[3 * H + j] * dhb[j];
    }
    if (ln) {
      const float* gh = kept[3].data_ptr<float>() + b * 4 * H;
      float* s_g = sums[0].data_ptr<float>() + b * 4 * H;
      float* s_b = sums[1].data_ptr<float>() + b * 4 * H;
#pragma omp simd
      for (int64_t j = 0; j < 4 * H; ++j) {
        s_g[j] += da[j] * gh[j];
        s_b[j] += da[j];
        da[j] *= gg[j];
      }
      for (int k = 0; k < 4; ++k)
        normalise_backward(da + k * H, gh + k * H, kept[4].data_ptr<float>()[b * 4 + k], H);
    }
    float* dcp = dc_prev.data_ptr<float>() + b * H;
    const float* fb = f.data_ptr<float>() + b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) dcp[j] = dcn_p[j] * fb[j];
  }
  return dc_prev;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("step_forward", &step_forward, "LSTM step, point-wise part, forward (see lstm_step.cpp)");
  m.def("step_backward", &step_backward, "LSTM step, point-wise part, backward (see lstm_step.cpp)");
}
