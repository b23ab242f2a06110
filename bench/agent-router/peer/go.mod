module tel/bench/peer

go 1.21
