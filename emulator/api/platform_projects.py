"""Mono Platform REST (`/platform/v1/`): the contract, projects, SIM resources, devices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from emulator.api.common import BackendDep, require_auth
from emulator.api.platform_schemas import (
    ContractOut,
    DeviceIn,
    DeviceOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    SimResourceOut,
    errors,
)

PREFIX = "/platform/v1"
ProjectId = Annotated[str, Path(max_length=32, description="a project id (12 digits)")]
DeviceId = Annotated[str, Path(max_length=64, description="a device ID (dev-...)")]

router = APIRouter(
    prefix=PREFIX,
    tags=["Mono Platform: projects and devices"],
    dependencies=[Depends(require_auth)],
    responses=errors(400, 401, 403, 404, 409),
)


@router.get("/contract", response_model=ContractOut)
async def contract(backend: BackendDep) -> ContractOut:
    """The platform contract: formed at the first project (001 §53.1); deleting every
    project ends it at the end of that month (§60.2)."""
    return ContractOut(**backend.platform.projects.contract().__dict__)


@router.get("/projects", response_model=list[ProjectOut])
async def list_projects(backend: BackendDep) -> list[ProjectOut]:
    """Every project."""
    return [ProjectOut(**p.__dict__) for p in backend.platform.projects.list_all()]


@router.post("/projects", status_code=201, response_model=ProjectOut)
async def create_project(body: ProjectIn, backend: BackendDep) -> ProjectOut:
    """Create a project (business accounts with a Secure Mobile Connect contract only,
    001 §51.2, §53.2); the first forms the platform contract (§53.1). `file_transfer`
    chooses the file send/receive sub-option (§50.3, billed per month, §56)."""
    project = backend.platform.projects.create(
        body.name, body.description, file_transfer=body.file_transfer
    )
    return ProjectOut(**project.__dict__)


@router.get("/projects/{project_id}", response_model=ProjectOut)
async def get_project(project_id: ProjectId, backend: BackendDep) -> ProjectOut:
    """One project."""
    return ProjectOut(**backend.platform.projects.get(project_id).__dict__)


@router.patch("/projects/{project_id}", response_model=ProjectOut)
async def update_project(
    project_id: ProjectId, body: ProjectPatch, backend: BackendDep
) -> ProjectOut:
    """Rename or redescribe a project, or turn file send/receive (§50.3(2)) on or off."""
    project = backend.platform.projects.update(
        project_id, name=body.name, description=body.description, file_transfer=body.file_transfer
    )
    return ProjectOut(**project.__dict__)


@router.delete("/projects/{project_id}", response_model=ProjectOut)
async def delete_project(project_id: ProjectId, backend: BackendDep) -> ProjectOut:
    """Delete a project without devices (409 otherwise); its adapters and files go too
    and its sub-options are cleared."""
    return ProjectOut(**backend.platform.projects.delete(project_id).__dict__)


@router.get("/sim-resources", response_model=list[SimResourceOut])
async def sim_resources(backend: BackendDep) -> list[SimResourceOut]:
    """Every SIM resource (one per registered SIM, 001 §52.2) with its device ID, if it
    ever got one, and its project, if any."""
    return [SimResourceOut(**r.__dict__) for r in backend.platform.devices.resources()]


@router.get("/projects/{project_id}/devices", response_model=list[DeviceOut])
async def list_devices(project_id: ProjectId, backend: BackendDep) -> list[DeviceOut]:
    """The project's devices."""
    return [DeviceOut(**d.__dict__) for d in backend.platform.devices.list_project(project_id)]


@router.post("/projects/{project_id}/devices", status_code=201, response_model=DeviceOut)
async def register_device(project_id: ProjectId, body: DeviceIn, backend: BackendDep) -> DeviceOut:
    """Register a SIM resource to the project: issues its device ID, or gives back the
    one it got the first time (001 §52.5)."""
    return DeviceOut(**backend.platform.devices.register(project_id, body.iccid).__dict__)


@router.delete("/projects/{project_id}/devices/{device_id}", response_model=DeviceOut)
async def unregister_device(
    project_id: ProjectId, device_id: DeviceId, backend: BackendDep
) -> DeviceOut:
    """Remove the SIM resource from the project (its platform base fee ends, §55.2)."""
    return DeviceOut(**backend.platform.devices.unregister(project_id, device_id).__dict__)


@router.get("/devices/{device_id}", response_model=DeviceOut)
async def get_device(device_id: DeviceId, backend: BackendDep) -> DeviceOut:
    """A device by its ID (404 while its SIM resource is in no project)."""
    return DeviceOut(**backend.platform.devices.get(device_id).__dict__)
