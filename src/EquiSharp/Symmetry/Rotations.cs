using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Symmetry;

/// <summary>
/// Random rotations and reflections (Haar distributed, seeded) and conversions between rotation
/// matrices, unit quaternions, axis-angle, rotation vectors and Euler angles.
/// </summary>
/// <remarks>
/// <para><b>Conventions.</b> Matrices act on column vectors: a point x maps to R x. A row-major tensor
/// of points X [N, d] therefore maps to X Rᵀ. Quaternions are scalar first, q = (w, x, y, z), and
/// are returned with w ≥ 0 (q and −q are the same rotation). Axis-angle rotations turn by the angle
/// counter-clockwise about the axis (right-hand rule). Euler angles follow e3nn:
/// R(α, β, γ) = Y(α) X(β) Y(γ) with <see cref="MatrixX"/>, <see cref="MatrixY"/> the elementary
/// rotations about the x and y axes, α, γ ∈ (−π, π], β ∈ [0, π].</para>
/// <para><b>Randomness.</b> Every sampler takes an optional <see cref="Generator"/> (e.g.
/// <c>new torch.Generator(42)</c>) for reproducible draws; samples are drawn on the CPU in float64
/// and then converted to the requested dtype and device, so a seed gives the same rotation for
/// every dtype and device. Without a generator torch's global generator is used.</para>
/// <para>All conversion functions are batched over leading dimensions and differentiable.</para>
/// </remarks>
public static class Rotations
{
    // ---------------------------------------------------------------- sampling

    /// <summary>A uniformly random (Haar) rotation in SO(3), [3, 3], from a uniformly random unit quaternion.</summary>
    public static Tensor RandomSO3(Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        Single(RandomSO3(1, generator, dtype, device));

    /// <summary><paramref name="count"/> independent Haar rotations in SO(3), [count, 3, 3].</summary>
    public static Tensor RandomSO3(long count, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        CheckCount(count);
        using var scope = torch.NewDisposeScope();
        // A standard normal 4-vector normalised is uniform on S^3, whose image in SO(3) is Haar.
        var q = torch.randn(new[] { count, 4 }, dtype: ScalarType.Float64, generator: generator);
        return Finish(QuaternionToMatrix(q), dtype, device).MoveToOuterDisposeScope();
    }

    /// <summary>A Haar random element of O(3), [3, 3]: a Haar rotation, negated with probability 1/2 (det −1).</summary>
    public static Tensor RandomO3(Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        Single(RandomO3(1, generator, dtype, device));

    /// <summary><paramref name="count"/> independent Haar elements of O(3), [count, 3, 3]; about half have det −1.</summary>
    public static Tensor RandomO3(long count, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        RandomOrthogonal(3, count, generator, dtype, device);

    /// <summary>A uniformly random rotation in SO(2), [2, 2] (angle uniform in [0, 2π)).</summary>
    public static Tensor RandomSO2(Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        Single(RandomSO2(1, generator, dtype, device));

    /// <summary><paramref name="count"/> uniformly random rotations in SO(2), [count, 2, 2].</summary>
    public static Tensor RandomSO2(long count, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        RandomSpecialOrthogonal(2, count, generator, dtype, device);

    /// <summary>A Haar random element of O(2), [2, 2]; a reflection (det −1) with probability 1/2.</summary>
    public static Tensor RandomO2(Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        Single(RandomO2(1, generator, dtype, device));

    /// <summary><paramref name="count"/> Haar random elements of O(2), [count, 2, 2].</summary>
    public static Tensor RandomO2(long count, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        RandomOrthogonal(2, count, generator, dtype, device);

    /// <summary>A Haar random rotation in SO(<paramref name="dim"/>), [dim, dim] (dim ≥ 1).</summary>
    public static Tensor RandomSpecialOrthogonal(int dim, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        Single(RandomSpecialOrthogonal(dim, 1, generator, dtype, device));

    /// <summary>
    /// <paramref name="count"/> Haar random rotations in SO(<paramref name="dim"/>), [count, dim, dim].
    /// dim = 3 uses unit quaternions, dim = 2 a uniform angle, other dims the sign-corrected QR of a Gaussian matrix.
    /// </summary>
    public static Tensor RandomSpecialOrthogonal(int dim, long count, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        CheckDim(dim);
        CheckCount(count);
        if (dim == 3) return RandomSO3(count, generator, dtype, device);
        using var scope = torch.NewDisposeScope();
        Tensor r;
        if (dim == 2)
        {
            var angle = torch.rand(new[] { count }, dtype: ScalarType.Float64, generator: generator) * (2 * Math.PI);
            r = MatrixZ2(angle);
        }
        else
        {
            r = HaarOrthogonal(dim, count, generator);
            // Right-multiplying the det −1 half by diag(−1, 1, ..) is measure preserving, so the result is Haar on SO(d).
            var flip = torch.where(torch.linalg.det(r) < 0, -1.0, 1.0);
            var first = r[.., .., 0..1] * flip.reshape(count, 1, 1);
            r = torch.cat(new[] { first, r[.., .., 1..] }, 2);
        }
        return Finish(r, dtype, device).MoveToOuterDisposeScope();
    }

    /// <summary>A Haar random element of O(<paramref name="dim"/>), [dim, dim]: det ±1 with probability 1/2 each.</summary>
    public static Tensor RandomOrthogonal(int dim, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        Single(RandomOrthogonal(dim, 1, generator, dtype, device));

    /// <summary><paramref name="count"/> Haar random elements of O(<paramref name="dim"/>), [count, dim, dim].</summary>
    public static Tensor RandomOrthogonal(int dim, long count, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        CheckDim(dim);
        CheckCount(count);
        using var scope = torch.NewDisposeScope();
        var r = RandomSpecialOrthogonal(dim, count, generator, ScalarType.Float64, null);
        var coin = torch.rand(new[] { count }, dtype: ScalarType.Float64, generator: generator) < 0.5;
        var improper = ImproperFrom(r);
        r = torch.where(coin.reshape(count, 1, 1), improper, r);
        return Finish(r, dtype, device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A Haar random improper orthogonal matrix (det −1), [dim, dim]: uniformly distributed on the
    /// reflection coset of O(dim). In 3D this is −R for a Haar rotation R (inversion times rotation),
    /// in other dimensions R·diag(−1, 1, …, 1).
    /// </summary>
    public static Tensor RandomReflection(int dim, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        Single(RandomReflection(dim, 1, generator, dtype, device));

    /// <summary><paramref name="count"/> Haar random improper orthogonal matrices (det −1), [count, dim, dim].</summary>
    public static Tensor RandomReflection(int dim, long count, Generator? generator = null, ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        using var scope = torch.NewDisposeScope();
        var r = ImproperFrom(RandomSpecialOrthogonal(dim, count, generator, ScalarType.Float64, null));
        return Finish(r, dtype, device).MoveToOuterDisposeScope();
    }

    /// <summary>The Householder reflection I − 2 n nᵀ / |n|² across the hyperplane orthogonal to <paramref name="normal"/> [d] (det −1).</summary>
    public static Tensor Householder(Tensor normal)
    {
        ArgumentNullException.ThrowIfNull(normal);
        if (normal.dim() != 1 || !normal.is_floating_point())
            throw new ArgumentException($"normal must be a floating point vector [d], got {GraphValidation.Shape(normal)} ({normal.dtype}).", nameof(normal));
        using var scope = torch.NewDisposeScope();
        var n = normal / normal.norm();
        return (torch.eye(normal.shape[0], dtype: normal.dtype, device: normal.device) - 2 * torch.outer(n, n)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Splits 3D orthogonal matrices [..., 3, 3] into their proper rotation and parity: R = parity · proper
    /// with parity = sign(det R) ∈ {+1, −1} [...] and proper = parity · R ∈ SO(3). This is how O(3)
    /// representations with parity are built: D(R) = parity^p · D_proper(proper) (e.g. e3nn irreps).
    /// </summary>
    public static (Tensor Proper, Tensor Parity) SplitParity(Tensor r)
    {
        CheckMatrix(r, 3, nameof(r));
        using var scope = torch.NewDisposeScope();
        var parity = torch.where(torch.linalg.det(r) < 0, -1.0, 1.0).to(r.dtype);
        var proper = r * parity.unsqueeze(-1).unsqueeze(-1);
        return (proper.MoveToOuterDisposeScope(), parity.MoveToOuterDisposeScope());
    }

    // ---------------------------------------------------------------- elementary rotations

    /// <summary>Rotation about the x axis by <paramref name="angle"/> [...] → [..., 3, 3]: [[1,0,0],[0,c,−s],[0,s,c]].</summary>
    public static Tensor MatrixX(Tensor angle)
    {
        using var scope = torch.NewDisposeScope();
        var c = angle.cos(); var s = angle.sin(); var o = torch.ones_like(c); var z = torch.zeros_like(c);
        return Assemble3(o, z, z, z, c, -s, z, s, c).MoveToOuterDisposeScope();
    }

    /// <summary>Rotation about the y axis by <paramref name="angle"/> [...] → [..., 3, 3]: [[c,0,s],[0,1,0],[−s,0,c]].</summary>
    public static Tensor MatrixY(Tensor angle)
    {
        using var scope = torch.NewDisposeScope();
        var c = angle.cos(); var s = angle.sin(); var o = torch.ones_like(c); var z = torch.zeros_like(c);
        return Assemble3(c, z, s, z, o, z, -s, z, c).MoveToOuterDisposeScope();
    }

    /// <summary>Rotation about the z axis by <paramref name="angle"/> [...] → [..., 3, 3]: [[c,−s,0],[s,c,0],[0,0,1]].</summary>
    public static Tensor MatrixZ(Tensor angle)
    {
        using var scope = torch.NewDisposeScope();
        var c = angle.cos(); var s = angle.sin(); var o = torch.ones_like(c); var z = torch.zeros_like(c);
        return Assemble3(c, -s, z, s, c, z, z, z, o).MoveToOuterDisposeScope();
    }

    /// <summary>The 2D rotation by <paramref name="angle"/> [...] → [..., 2, 2]: [[c,−s],[s,c]].</summary>
    public static Tensor Matrix2D(Tensor angle) => MatrixZ2(angle);

    /// <summary>The angle θ ∈ (−π, π] of 2D rotations [..., 2, 2] (atan2(R10, R00)).</summary>
    public static Tensor MatrixToAngle2D(Tensor r)
    {
        CheckMatrix(r, 2, nameof(r));
        return torch.atan2(r[TensorIndex.Ellipsis, 1, 0], r[TensorIndex.Ellipsis, 0, 0]);
    }

    // ---------------------------------------------------------------- quaternions

    /// <summary>
    /// Unit quaternions q = (w, x, y, z) [..., 4] to rotation matrices [..., 3, 3]. q is normalised
    /// first, so any non-zero quaternion is accepted; q and −q give the same matrix.
    /// </summary>
    public static Tensor QuaternionToMatrix(Tensor q)
    {
        CheckLast(q, 4, nameof(q), "quaternions (w, x, y, z)");
        using var scope = torch.NewDisposeScope();
        var u = q / q.norm(-1, keepdim: true);
        var w = u[TensorIndex.Ellipsis, 0]; var x = u[TensorIndex.Ellipsis, 1];
        var y = u[TensorIndex.Ellipsis, 2]; var z = u[TensorIndex.Ellipsis, 3];
        return Assemble3(
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotation matrices [..., 3, 3] (det +1) to unit quaternions (w, x, y, z) [..., 4] with w ≥ 0.
    /// Uses Shepperd's method (divides by the largest of |w|, |x|, |y|, |z|), so it is accurate for
    /// every angle, including near the identity and near π. Throws <see cref="ArgumentException"/> for
    /// reflections (det &lt; 0); split them with <see cref="SplitParity"/> first.
    /// </summary>
    public static Tensor MatrixToQuaternion(Tensor r)
    {
        CheckMatrix(r, 3, nameof(r));
        CheckProper(r, nameof(r));
        using var scope = torch.NewDisposeScope();
        Tensor M(int i, int j) => r[TensorIndex.Ellipsis, i, j];
        var m00 = M(0, 0); var m11 = M(1, 1); var m22 = M(2, 2);
        var m01 = M(0, 1); var m10 = M(1, 0); var m02 = M(0, 2); var m20 = M(2, 0); var m12 = M(1, 2); var m21 = M(2, 1);
        // 4w², 4x², 4y², 4z² (clamped against rounding below zero).
        var sq = torch.stack(new[] { 1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22 }, -1).clamp_min(0);
        var abs2 = sq.sqrt(); // 2|w|, 2|x|, 2|y|, 2|z|
        // Row k: the quaternion times 4·q_k, derived from the diagonal term of component k.
        var c0 = torch.stack(new[] { sq[TensorIndex.Ellipsis, 0], m21 - m12, m02 - m20, m10 - m01 }, -1);
        var c1 = torch.stack(new[] { m21 - m12, sq[TensorIndex.Ellipsis, 1], m10 + m01, m02 + m20 }, -1);
        var c2 = torch.stack(new[] { m02 - m20, m10 + m01, sq[TensorIndex.Ellipsis, 2], m12 + m21 }, -1);
        var c3 = torch.stack(new[] { m10 - m01, m20 + m02, m21 + m12, sq[TensorIndex.Ellipsis, 3] }, -1);
        var candidates = torch.stack(new[] { c0, c1, c2, c3 }, -2); // [..., 4 (k), 4]
        candidates = candidates / (2 * abs2.clamp_min(0.1)).unsqueeze(-1);
        var best = abs2.argmax(-1, keepdim: true); // [..., 1]
        var index = best.unsqueeze(-1).expand(best.shape.Concat(new long[] { 4 }).ToArray()); // [..., 1, 4]
        var q = candidates.gather(-2, index).squeeze(-2);
        q = q / q.norm(-1, keepdim: true);
        q = torch.where(q[TensorIndex.Ellipsis, 0..1] < 0, -q, q);
        return q.MoveToOuterDisposeScope();
    }

    /// <summary>Quaternion product a ⊗ b of (w, x, y, z) quaternions [..., 4]; the matrix of a ⊗ b is R(a) R(b).</summary>
    public static Tensor QuaternionMultiply(Tensor a, Tensor b)
    {
        CheckLast(a, 4, nameof(a), "quaternions (w, x, y, z)");
        CheckLast(b, 4, nameof(b), "quaternions (w, x, y, z)");
        using var scope = torch.NewDisposeScope();
        Tensor C(Tensor t, int i) => t[TensorIndex.Ellipsis, i];
        var (aw, ax, ay, az) = (C(a, 0), C(a, 1), C(a, 2), C(a, 3));
        var (bw, bx, by, bz) = (C(b, 0), C(b, 1), C(b, 2), C(b, 3));
        return torch.stack(new[]
        {
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        }, -1).MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------- axis-angle and rotation vectors

    /// <summary>Axis [..., 3] (normalised internally) and angle [...] (radians) to the unit quaternion [..., 4].</summary>
    public static Tensor AxisAngleToQuaternion(Tensor axis, Tensor angle)
    {
        CheckLast(axis, 3, nameof(axis), "axes");
        using var scope = torch.NewDisposeScope();
        var n = axis / axis.norm(-1, keepdim: true);
        var half = (angle / 2).unsqueeze(-1);
        return torch.cat(new[] { half.cos(), half.sin() * n }, -1).MoveToOuterDisposeScope();
    }

    /// <summary>Axis [..., 3] (normalised internally) and angle [...] to the rotation matrix [..., 3, 3] (Rodrigues).</summary>
    public static Tensor AxisAngleToMatrix(Tensor axis, Tensor angle)
    {
        using var scope = torch.NewDisposeScope();
        return QuaternionToMatrix(AxisAngleToQuaternion(axis, angle)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Unit quaternions [..., 4] to axis [..., 3] and angle [...] ∈ [0, π]. The angle uses atan2 (accurate
    /// at every angle); for the identity (angle 0) the axis is arbitrary and returned as (0, 0, 1).
    /// </summary>
    public static (Tensor Axis, Tensor Angle) QuaternionToAxisAngle(Tensor q)
    {
        CheckLast(q, 4, nameof(q), "quaternions (w, x, y, z)");
        using var scope = torch.NewDisposeScope();
        var u = q / q.norm(-1, keepdim: true);
        u = torch.where(u[TensorIndex.Ellipsis, 0..1] < 0, -u, u);
        var v = u[TensorIndex.Ellipsis, 1..];
        var s = v.norm(-1, keepdim: true);
        var angle = 2 * torch.atan2(s.squeeze(-1), u[TensorIndex.Ellipsis, 0]);
        var fallback = torch.zeros_like(v); fallback[TensorIndex.Ellipsis, 2] = torch.tensor(1.0, dtype: v.dtype);
        var axis = torch.where(s > 0, v / torch.where(s > 0, s, torch.ones_like(s)), fallback);
        return (axis.MoveToOuterDisposeScope(), angle.MoveToOuterDisposeScope());
    }

    /// <summary>Rotation matrices [..., 3, 3] to axis [..., 3] and angle [...] ∈ [0, π] (via <see cref="MatrixToQuaternion"/>).</summary>
    public static (Tensor Axis, Tensor Angle) MatrixToAxisAngle(Tensor r)
    {
        using var scope = torch.NewDisposeScope();
        var (axis, angle) = QuaternionToAxisAngle(MatrixToQuaternion(r));
        return (axis.MoveToOuterDisposeScope(), angle.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Rotation vectors ω = θ n [..., 3] (exponential map) to rotation matrices [..., 3, 3]; exact at
    /// ω = 0 (a series replaces sin(θ/2)/θ for tiny θ).
    /// </summary>
    public static Tensor RotationVectorToMatrix(Tensor rotationVector)
    {
        CheckLast(rotationVector, 3, nameof(rotationVector), "rotation vectors");
        using var scope = torch.NewDisposeScope();
        var theta = rotationVector.norm(-1, keepdim: true);
        var small = theta < 1e-4;
        var safe = torch.where(small, torch.ones_like(theta), theta);
        var k = torch.where(small, 0.5 - theta * theta / 48, (safe / 2).sin() / safe); // sin(θ/2)/θ
        var q = torch.cat(new[] { (theta / 2).cos(), k * rotationVector }, -1);
        return QuaternionToMatrix(q).MoveToOuterDisposeScope();
    }

    /// <summary>Rotation matrices [..., 3, 3] to rotation vectors θ n [..., 3] with θ ∈ [0, π] (logarithm map).</summary>
    public static Tensor MatrixToRotationVector(Tensor r)
    {
        using var scope = torch.NewDisposeScope();
        var q = MatrixToQuaternion(r);
        var w = q[TensorIndex.Ellipsis, 0..1];
        var v = q[TensorIndex.Ellipsis, 1..];
        var s = v.norm(-1, keepdim: true);
        var safe = torch.where(s > 0, s, torch.ones_like(s));
        var factor = torch.where(s > 1e-12, 2 * torch.atan2(s, w) / safe, 2 / w); // θ / sin(θ/2)
        return (factor * v).MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------- Euler angles (e3nn Y-X-Y)

    /// <summary>e3nn Euler angles to matrices: R = Y(α) X(β) Y(γ); angles [...] broadcast together → [..., 3, 3].</summary>
    public static Tensor EulerAnglesToMatrix(Tensor alpha, Tensor beta, Tensor gamma)
    {
        using var scope = torch.NewDisposeScope();
        var ts = torch.broadcast_tensors(alpha, beta, gamma);
        return MatrixY(ts[0]).matmul(MatrixX(ts[1])).matmul(MatrixY(ts[2])).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotation matrices [..., 3, 3] to e3nn Euler angles (α, β, γ) with R = Y(α) X(β) Y(γ), following
    /// e3nn's matrix_to_angles: (α, β) are the spherical angles of R e_y (β from atan2, accurate near 0
    /// and π), γ the remaining rotation about y. At β = 0 or π (gimbal lock) α = 0 is chosen and γ
    /// carries the whole rotation; the matrix round trip is exact everywhere.
    /// </summary>
    public static (Tensor Alpha, Tensor Beta, Tensor Gamma) MatrixToEulerAngles(Tensor r)
    {
        CheckMatrix(r, 3, nameof(r));
        CheckProper(r, nameof(r));
        using var scope = torch.NewDisposeScope();
        var y = r[TensorIndex.Ellipsis, .., 1]; // R e_y
        var y0 = y[TensorIndex.Ellipsis, 0]; var y1 = y[TensorIndex.Ellipsis, 1]; var y2 = y[TensorIndex.Ellipsis, 2];
        var alpha = torch.atan2(y0, y2);
        var beta = torch.atan2((y0 * y0 + y2 * y2).sqrt(), y1);
        var partial = MatrixY(alpha).matmul(MatrixX(beta));
        var rest = partial.transpose(-1, -2).matmul(r); // = Y(γ)
        var gamma = torch.atan2(rest[TensorIndex.Ellipsis, 0, 2], rest[TensorIndex.Ellipsis, 0, 0]);
        return (alpha.MoveToOuterDisposeScope(), beta.MoveToOuterDisposeScope(), gamma.MoveToOuterDisposeScope());
    }

    // ---------------------------------------------------------------- helpers

    private static Tensor HaarOrthogonal(int dim, long count, Generator? generator)
    {
        var a = torch.randn(new[] { count, (long)dim, (long)dim }, dtype: ScalarType.Float64, generator: generator);
        var (q, rr) = torch.linalg.qr(a);
        // Fix the sign ambiguity of QR so that Q is Haar distributed (Mezzadri 2007).
        var signs = torch.where(rr.diagonal(0, -2, -1) < 0, -1.0, 1.0);
        return q * signs.unsqueeze(-2);
    }

    private static Tensor ImproperFrom(Tensor properRotations)
    {
        long d = properRotations.shape[^1];
        if (d == 3) return -properRotations;
        var diag = torch.ones(d, dtype: properRotations.dtype, device: properRotations.device);
        diag[0] = torch.tensor(-1.0, dtype: properRotations.dtype);
        return properRotations * diag; // R · diag(−1, 1, ...)
    }

    private static Tensor MatrixZ2(Tensor angle)
    {
        using var scope = torch.NewDisposeScope();
        var c = angle.cos(); var s = angle.sin();
        return torch.stack(new[] { c, -s, s, c }, -1).reshape(angle.shape.Concat(new long[] { 2, 2 }).ToArray()).MoveToOuterDisposeScope();
    }

    private static Tensor Assemble3(params Tensor[] entries)
    {
        var shape = entries[0].shape.Concat(new long[] { 3, 3 }).ToArray();
        return torch.stack(entries, -1).reshape(shape);
    }

    private static Tensor Single(Tensor batched)
    {
        using (batched) return batched[0].clone();
    }

    private static Tensor Finish(Tensor r, ScalarType dtype, Device? device)
    {
        if (dtype is not (ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype must be a floating point type, got {dtype}.", nameof(dtype));
        return r.to(dtype, device ?? r.device);
    }

    private static void CheckDim(int dim)
    {
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "The spatial dimension must be at least 1.");
    }

    private static void CheckCount(long count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1.");
    }

    private static void CheckLast(Tensor t, long size, string name, string what)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() < 1 || t.shape[^1] != size || !t.is_floating_point())
            throw new ArgumentException($"{name}: expected floating point {what} [..., {size}], got {GraphValidation.Shape(t)} ({t.dtype}).", name);
    }

    private static void CheckProper(Tensor r, string name)
    {
        if (r.numel() == 0) return;
        using var scope = torch.NewDisposeScope();
        var det = torch.linalg.det(r.detach()).reshape(-1);
        var bad = (det < 0).nonzero();
        if (bad.shape[0] > 0)
        {
            long k = bad[0, 0].item<long>();
            throw new ArgumentException(
                $"{name}: matrix {k} (flattened over leading dimensions) has det {det[k].to(ScalarType.Float64).item<double>():G4}, a reflection; quaternions, axis-angle and Euler angles describe proper rotations only (use SplitParity first).", name);
        }
    }

    private static void CheckMatrix(Tensor t, long size, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() < 2 || t.shape[^1] != size || t.shape[^2] != size || !t.is_floating_point())
            throw new ArgumentException($"{name}: expected floating point matrices [..., {size}, {size}], got {GraphValidation.Shape(t)} ({t.dtype}).", name);
    }
}
