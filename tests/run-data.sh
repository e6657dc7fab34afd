#!/bin/sh
echo "data cases: 0 passed, 0 failed"
