// SPDX-License-Identifier: Apache-2.0
// The RPC read benchmark's contract: one storage slot for eth_call to read and one event per
// call for eth_getLogs to find. Each `bump` writes the slot and emits one log.
pragma solidity 0.8.37;

contract Emitter {
    /// Sum of every round bumped so far; `total()` is what eth_call reads.
    uint256 public total;

    event Bumped(address indexed by, uint256 indexed round, uint256 total);

    function bump(uint256 round) external {
        total += round;
        emit Bumped(msg.sender, round, total);
    }
}
