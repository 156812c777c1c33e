Console.WriteLine("equisharp: under construction");
