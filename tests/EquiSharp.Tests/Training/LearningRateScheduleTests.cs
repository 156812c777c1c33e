using EquiSharp.Training;
using Xunit;

namespace EquiSharp.Tests.Training;

public class LearningRateScheduleTests
{
    private static readonly TrainerOptions Cosine = new()
    {
        Epochs = 10,
        LearningRate = 1e-3,
        MinLearningRate = 1e-5,
        Schedule = LearningRateSchedule.Cosine,
        WarmupEpochs = 2,
        ScheduleGranularity = ScheduleGranularity.Epoch,
    };

    [Theory]
    [InlineData(0, 0.5e-3)]            // warm-up: base × 1/2
    [InlineData(1, 1e-3)]              // last warm-up epoch reaches the base rate
    [InlineData(2, 1e-3)]              // cosine starts at the base rate
    [InlineData(6, 1e-5 + (1e-3 - 1e-5) * 0.5)] // half-way through the cosine (4 of 8 epochs)
    [InlineData(9, 1e-5 + (1e-3 - 1e-5) * 0.5 * 0.07612046748871348)] // 1 + cos(7π/8), progress 7/8
    public void CosineWithWarmupPerEpoch(int epoch, double expected)
    {
        // Every step of an epoch has the epoch's rate.
        Assert.Equal(expected, LearningRateSchedules.At(Cosine, epoch, 0, 7), 15);
        Assert.Equal(expected, LearningRateSchedules.At(Cosine, epoch, 6, 7), 15);
    }

    [Fact]
    public void CosineWithWarmupPerStep()
    {
        var options = Cosine with { ScheduleGranularity = ScheduleGranularity.Step };
        const int steps = 4; // W = 8 warm-up steps, T = 40
        Assert.Equal(1e-3 / 8, LearningRateSchedules.At(options, 0, 0, steps), 15);
        Assert.Equal(1e-3 * 6 / 8, LearningRateSchedules.At(options, 1, 1, steps), 15);
        Assert.Equal(1e-3, LearningRateSchedules.At(options, 1, 3, steps), 15);
        Assert.Equal(1e-3, LearningRateSchedules.At(options, 2, 0, steps), 15);
        double mid = 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.Cos(Math.PI * 16 / 32));
        Assert.Equal(mid, LearningRateSchedules.At(options, 6, 0, steps), 15);
        double last = 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.Cos(Math.PI * 31 / 32));
        Assert.Equal(last, LearningRateSchedules.At(options, 9, 3, steps), 15);
        // Monotone decreasing after warm-up.
        double previous = double.PositiveInfinity;
        for (int e = 2; e < 10; e++)
            for (int s = 0; s < steps; s++)
            {
                double lr = LearningRateSchedules.At(options, e, s, steps);
                Assert.True(lr <= previous && lr >= 1e-5);
                previous = lr;
            }
    }

    [Fact]
    public void ConstantScheduleKeepsTheBaseRateAfterWarmup()
    {
        var options = Cosine with { Schedule = LearningRateSchedule.Constant };
        Assert.Equal(0.5e-3, LearningRateSchedules.At(options, 0, 3, 5), 15);
        for (int e = 1; e < 10; e++) Assert.Equal(1e-3, LearningRateSchedules.At(options, e, 2, 5));
        var noWarmup = options with { WarmupEpochs = 0 };
        Assert.Equal(1e-3, LearningRateSchedules.At(noWarmup, 0, 0, 5));
    }

    [Theory]
    [InlineData(ScheduleGranularity.Step)]
    [InlineData(ScheduleGranularity.Epoch)]
    public void ACooldownOverEveryEpochAfterTheWarmupIsTheCosineSchedule(ScheduleGranularity granularity)
    {
        var cosine = Cosine with { ScheduleGranularity = granularity };
        var cooled = cosine with { Schedule = LearningRateSchedule.Constant, CooldownEpochs = 8 };
        for (int e = 0; e < 10; e++)
            for (int s = 0; s < 3; s++)
                Assert.Equal(LearningRateSchedules.At(cosine, e, s, 3), LearningRateSchedules.At(cooled, e, s, 3));
    }

    [Fact]
    public void ACooldownKeepsTheBaseRateUntilItBeginsThenDecaysToTheMinimum()
    {
        // 10 epochs of 4 steps, warm-up 2, cooldown 3: base rate for epochs 2..6, half cosine over steps [28, 40).
        var options = Cosine with { Schedule = LearningRateSchedule.Constant, CooldownEpochs = 3, ScheduleGranularity = ScheduleGranularity.Step };
        for (int e = 2; e < 7; e++)
            for (int s = 0; s < 4; s++)
                Assert.Equal(1e-3, LearningRateSchedules.At(options, e, s, 4));
        Assert.Equal(1e-3, LearningRateSchedules.At(options, 7, 0, 4)); // the first cooldown step still has the base rate
        Assert.Equal(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.Cos(Math.PI * 6 / 12)), LearningRateSchedules.At(options, 8, 2, 4), 15);
        Assert.Equal(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.Cos(Math.PI * 11 / 12)), LearningRateSchedules.At(options, 9, 3, 4), 15);
        double previous = double.PositiveInfinity;
        for (int e = 7; e < 10; e++)
            for (int s = 0; s < 4; s++)
            {
                double lr = LearningRateSchedules.At(options, e, s, 4);
                Assert.True(lr < previous || (e == 7 && s == 0));
                previous = lr;
            }
        // Per epoch, the cooldown's epochs have the rates of a 3-epoch cosine.
        var perEpoch = options with { ScheduleGranularity = ScheduleGranularity.Epoch };
        Assert.Equal(1e-3, LearningRateSchedules.At(perEpoch, 6, 3, 4));
        Assert.Equal(1e-5 + (1e-3 - 1e-5) * 0.75, LearningRateSchedules.At(perEpoch, 8, 0, 4), 15); // ½ (1 + cos(π/3)), progress 1/3
    }

    [Fact]
    public void ACooldownIsValidatedAgainstTheScheduleAndTheEpochs()
    {
        var constant = Cosine with { Schedule = LearningRateSchedule.Constant };
        constant.Validate();
        (constant with { CooldownEpochs = 8 }).Validate();
        var tooLong = Assert.Throws<ArgumentException>(() => (constant with { CooldownEpochs = 9 }).Validate());
        Assert.Contains("CooldownEpochs = 9", tooLong.Message);
        var onCosine = Assert.Throws<ArgumentException>(() => (Cosine with { CooldownEpochs = 2 }).Validate());
        Assert.Contains("constant schedule only", onCosine.Message);
        Assert.Throws<ArgumentException>(() => (constant with { CooldownEpochs = -1 }).Validate());
    }

    [Fact]
    public void RejectsOutOfRangeArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedules.At(Cosine, 10, 0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedules.At(Cosine, 0, 5, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedules.At(Cosine, 0, 0, 0));
    }

    [Fact]
    public void PermutationsAreSeededAndDifferPerEpoch()
    {
        var a = Seeding.Permutation(50, Seeding.EpochSeed(7, 1));
        Assert.Equal(a, Seeding.Permutation(50, Seeding.EpochSeed(7, 1)));
        Assert.NotEqual(a, Seeding.Permutation(50, Seeding.EpochSeed(7, 2)));
        Assert.NotEqual(a, Seeding.Permutation(50, Seeding.EpochSeed(8, 1)));
        Assert.Equal(Enumerable.Range(0, 50), a.Order());
    }
}
